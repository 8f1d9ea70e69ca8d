import EffiCore
import Foundation

// effilora-fuzz: the parsers of untrusted input as fuzz targets (FuzzTargets.names).
//   effilora-fuzz seeds DIR                  write each target's seed corpus under DIR/TARGET/
//   effilora-fuzz TARGET PATH… [--mutations N]
//                                            replay every file under PATH through TARGET, and N seeded
//                                            truncations and byte changes of each (a short fuzz
//                                            without libFuzzer; `make test` runs it)
// Built with -sanitize=fuzzer -DFUZZING (scripts/fuzz.sh), `effilora-fuzz TARGET [libFuzzer options] CORPUS`
// hands TARGET to libFuzzer instead.

let arguments = CommandLine.arguments
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(2)
}
guard arguments.count >= 3 else { fail("usage: effilora-fuzz seeds DIR | TARGET PATH… [--mutations N]; targets: \(FuzzTargets.names.joined(separator: ", "))") }
let targets = try FuzzTargets()
defer { targets.removeScratch() }

if arguments[1] == "seeds" {
    try targets.writeSeeds(to: arguments[2])
    print("seeds: \(arguments[2])/{\(FuzzTargets.names.joined(separator: ","))}")
    exit(0)
}
let target = arguments[1]
guard FuzzTargets.names.contains(target) else { fail("unknown target \(target): \(FuzzTargets.names.joined(separator: ", "))") }

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32
nonisolated(unsafe) var selected: (target: String, targets: FuzzTargets)! = (target, targets)
var driverArguments: [UnsafeMutablePointer<CChar>?] = ([arguments[0]] + arguments.dropFirst(2)).map { strdup($0) } + [nil]
var count = Int32(driverArguments.count - 1)
let status = driverArguments.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return LLVMFuzzerRunDriver(&count, &argv) { bytes, length in
        selected.targets.run(selected.target, bytes.map { Data(bytes: $0, count: length) } ?? Data())
        return 0
    }
}
exit(status)
#else
var paths: [String] = [], mutations = 0
var rest = arguments.dropFirst(2).makeIterator()
while let argument = rest.next() {
    if argument == "--mutations" {
        guard let n = rest.next().flatMap(Int.init), n >= 0 else { fail("--mutations needs a count") }
        mutations = n
    } else {
        paths.append(argument)
    }
}
var files: [String] = []
for path in paths {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { fail("\(path): no such file or folder") }
    if isFolder.boolValue {
        files += ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { (path as NSString).appendingPathComponent($0) }
    } else {
        files.append(path)
    }
}
guard !files.isEmpty else { fail("no inputs under \(paths.joined(separator: " "))") }
var runs = 0
for file in files {
    let original = try Data(contentsOf: URL(fileURLWithPath: file))
    targets.run(target, original)
    runs += 1
    // Seeded mutations: a truncation, then one to eight bytes set at random positions (deterministic per file).
    var rng = SplitMix64(seed: UInt64(file.utf8.reduce(0) { $0 &* 31 &+ Int($1) }.magnitude))
    for _ in 0..<mutations {
        var bytes = [UInt8](original)
        if !bytes.isEmpty, rng.next() % 3 == 0 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count))) }
        for _ in 0..<(1 + Int(rng.next() % 8)) where !bytes.isEmpty {
            bytes[Int(rng.next() % UInt64(bytes.count))] = [0, 0xFF, 0x7F, 0x80, UInt8(truncatingIfNeeded: rng.next())][Int(rng.next() % 5)]
        }
        targets.run(target, Data(bytes))
        runs += 1
    }
}
print("\(target): \(runs) inputs from \(files.count) files ran to completion")
#endif
