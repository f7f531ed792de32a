extension Duration {
    /// The duration in seconds, as a `Double` (for time budgets handed to C libraries and for reports).
    package var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
