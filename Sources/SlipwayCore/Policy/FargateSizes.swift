/// The task sizes Fargate runs: each CPU size allows a range of memory in fixed steps.
public enum FargateSizes {
    /// cpu units → (smallest MiB, largest MiB, step MiB)
    public static let memory: [Int: (min: Int, max: Int, step: Int)] = [
        256: (512, 2048, 512),        // only 512, 1024 and 2048: see `problem`
        512: (1024, 4096, 1024),
        1024: (2048, 8192, 1024),
        2048: (4096, 16384, 1024),
        4096: (8192, 30720, 1024),
        8192: (16384, 61440, 4096),
        16384: (32768, 122880, 8192),
    ]

    public static var cpuValues: [Int] { memory.keys.sorted() }

    /// Why `memory` does not fit `cpu` on Fargate, or nil.
    public static func problem(cpu: Int, memory mib: Int) -> String? {
        guard let range = memory[cpu] else { return nil }
        if cpu == 256, ![512, 1024, 2048].contains(mib) {
            return "on Fargate, cpu 256 takes memory 512, 1024 or 2048 MiB"
        }
        guard mib >= range.min, mib <= range.max, (mib - range.min) % range.step == 0 else {
            return "on Fargate, cpu \(cpu) takes memory from \(range.min) to \(range.max) MiB in steps of \(range.step)"
        }
        return nil
    }
}
