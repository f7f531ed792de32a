/// The assignment problem: match `n` rows to `n` columns, one each, maximising the total weight.
///
/// The Hungarian method with potentials (Kuhn 1955, Munkres 1957; the shortest-augmenting-path
/// form of Jonker and Volgenant), on integer weights, so the optimum is exact. Deterministic: ties
/// go to the lowest column index.
///
/// Complexity: O(n³) time, O(n²) for the matrix the caller passes.
public enum Assignment {
    /// For every row `i`, its column in a maximum-weight perfect matching of the `n × n` matrix
    /// `weights` (row-major, `weights[i·n + j]`).
    public static func maximumWeight(_ weights: ContiguousArray<Int>, size n: Int) -> [Int] {
        precondition(weights.count == n * n, "weights must hold n × n values")
        guard n > 0 else { return [] }
        let top = weights.max() ?? 0
        // Minimum cost on cost = top − weight (non-negative); 1-based with a virtual row/column 0.
        var u = [Int](repeating: 0, count: n + 1), v = [Int](repeating: 0, count: n + 1)
        var rowOf = [Int](repeating: 0, count: n + 1)   // column j → row matched to it (0: none)
        var way = [Int](repeating: 0, count: n + 1)
        var minimum = [Int](repeating: 0, count: n + 1)
        var used = [Bool](repeating: false, count: n + 1)
        for i in 1...n {
            rowOf[0] = i
            var j0 = 0
            for j in 0...n { minimum[j] = .max; used[j] = false }
            repeat {
                used[j0] = true
                let i0 = rowOf[j0]
                var delta = Int.max, j1 = 0
                for j in 1...n where !used[j] {
                    let cost = top - weights[(i0 - 1) * n + (j - 1)]
                    let reduced = cost - u[i0] - v[j]
                    if reduced < minimum[j] {
                        minimum[j] = reduced
                        way[j] = j0
                    }
                    if minimum[j] < delta {
                        delta = minimum[j]
                        j1 = j
                    }
                }
                for j in 0...n {
                    if used[j] {
                        u[rowOf[j]] += delta
                        v[j] -= delta
                    } else {
                        minimum[j] -= delta
                    }
                }
                j0 = j1
            } while rowOf[j0] != 0
            repeat {
                let j1 = way[j0]
                rowOf[j0] = rowOf[j1]
                j0 = j1
            } while j0 != 0
        }
        var column = [Int](repeating: 0, count: n)
        for j in 1...n where rowOf[j] > 0 { column[rowOf[j] - 1] = j - 1 }
        return column
    }
}
