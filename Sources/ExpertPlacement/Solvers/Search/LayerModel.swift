/// One layer's optimisation model for the search solver: the layer's ``ObjectiveModel`` in the
/// expert-major layout the search state reads, plus FlashLB's risk mode.
///
/// Every objective of INTERFACE.md §2 is, up to a constant, either a weighted *sum* of episode
/// peaks (`meanImbalance`, `peakSum`, `aggregateImbalance`) or a weighted *max* of them
/// (`worstImbalance`). Scaling episode `t`'s loads by its weight `c_t` turns both into plain
/// peaks of scaled loads `u[t][e] = c_t · w[t][e]`:
///
/// - sum mode: `f = constant + Σ_t max_d U[t][d]`
/// - max mode: `f = max(constant, max_t max_d U[t][d])`
///
/// with `U[t][d] = Σ_{replicas on d} u[t][e] / r_e`. For `meanImbalance`,
/// `c_t = ω_t·D / (W_t·Σω)` (`W_t` the episode's total load) so `f` is the mean imbalance itself;
/// episodes without load contribute their constant ρ = 1. When there are more than `episodeCap`
/// positive-weight episodes, consecutive ones are summed into `episodeCap` blocks (weights folded
/// in) and the model optimises the blocked objective; reports always evaluate the plan on every
/// episode. When `D·episodeCap` exceeds 2^22 (more than 65,536 devices at the default cap of 64),
/// the cap shrinks to `2^22 / D` blocks (at least one), so the state's device × episode rows stay
/// within ``maxDeviceRows`` values.
///
/// Risk mode (FlashLB's stochastic view) replaces the exact objective by the largest device score
/// `μ_d + z·σ_d`, the weighted mean and standard deviation over episodes of the device's load
/// (each episode normalised to an average device load of 1). Its variance is the sum of the
/// covariances of the replicas on the device, so correlated experts are kept apart.
struct LayerModel {
    enum Mode { case sum, max, risk }

    let experts: Int
    let devices: Int
    let slotsPerDevice: Int
    /// Episodes (or blocks) in the model, `T'`.
    let episodes: Int
    /// Scaled loads, expert-major: `u[e·T' + t]`.
    let u: [Double]
    let mode: Mode
    let constant: Double
    /// Risk mode: episode weights (summing to 1) and `z` of the device score `μ + z·σ`.
    let weights: [Double]
    let riskZ: Double

    var slots: Int { devices * slotsPerDevice }

    /// Most values in a device × episode row block of the search state (`D·T'`): 4 Mi doubles,
    /// 32 MiB. Layers with more than `2^22 / episodeCap` devices get fewer model episodes.
    static let maxDeviceRows = 1 << 22

    init(problem: Problem, layer: Int, objective: Objective, episodeCap: Int, riskZ: Double? = nil) {
        let view = ProblemLayer(problem, layer: layer)
        experts = problem.experts
        devices = problem.topology.devices
        slotsPerDevice = problem.topology.slotsPerDevice
        // Risk mode normalises every (blocked) episode to an average device load of 1: the rows
        // of the worst-episode model, with their block weights.
        // The search state keeps several D × T' rows; on layers with very many devices fewer,
        // larger blocks keep them within `maxDeviceRows` values.
        let cap = Swift.min(episodeCap, Swift.max(1, Self.maxDeviceRows / Swift.max(1, devices)))
        let model = ObjectiveModel(view, objective: riskZ == nil ? objective : .worstImbalance, episodeCap: cap)
        if let riskZ {
            mode = .risk
            self.riskZ = riskZ
            let sum = model.rowWeights.reduce(0, +)
            weights = sum > 0 ? model.rowWeights.map { $0 / sum } : [Double](repeating: 1 / Double(model.rowCount), count: model.rowCount)
            constant = 0
        } else {
            mode = model.combination == .max ? .max : .sum
            self.riskZ = 0
            weights = [Double](repeating: 1 / Double(model.rowCount), count: model.rowCount)
            constant = model.constant
        }
        let e = experts, t = model.rowCount
        episodes = t
        var u = [Double](repeating: 0, count: e * t)
        for i in 0..<t {
            for x in 0..<e { u[x * t + i] = model.rows[i * e + x] }
        }
        self.u = u
    }
}
