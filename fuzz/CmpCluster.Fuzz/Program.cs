using CmpCluster.Fuzz.Harness;
using SharpFuzz;

// Usage (fuzz/README.md):
//   dotnet CmpCluster.Fuzz.dll <request|tcp|ocsp>                 under afl-fuzz: input on stdin, persistent loop
//   dotnet CmpCluster.Fuzz.dll <request|tcp|ocsp> FILE|FOLDER...  reproduce: every file once, exceptions printed
if (args.Length == 0 || !FuzzTargets.Names.Contains(args[0]))
{
    Console.Error.WriteLine("usage: CmpCluster.Fuzz <request|tcp|ocsp> [FILE|FOLDER ...]");
    return 2;
}
Action<byte[]> target = FuzzTargets.ByName(args[0]);
string[] paths = args[1..];

// The PKI and handlers are built before the first input, so their setup is not part of any trace. Instrumented code
// writes to SharpFuzz's trace map, which only exists once Fuzzer.Run has attached it: a scratch map serves until then.
unsafe
{
    SharpFuzz.Common.Trace.SharedMem = (byte*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(1 << 16);
}
_ = FuzzEnvironment.Instance;

// Grains and request handlers run on thread-pool threads, whose stack is 1.5 MiB on Linux (8 MiB is only the main
// thread's): inputs run on a thread with that stack, so unbounded recursion overflows here as it would in the silo.
const int ThreadPoolStackBytes = 1536 * 1024;
int exitCode = 0;
var worker = new Thread(() => exitCode = paths.Length > 0 ? Reproduce(paths, target) : Fuzz(target), ThreadPoolStackBytes);
worker.Start();
worker.Join();
return exitCode;

static int Fuzz(Action<byte[]> target)
{
    Fuzzer.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        target(buffer.ToArray());
    });
    return 0;
}

static int Reproduce(string[] paths, Action<byte[]> target)
{
    int failed = 0;
    foreach (string file in paths.SelectMany(path => Directory.Exists(path) ? FuzzTargets.Files(path) : [path]))
    {
        try
        {
            target(File.ReadAllBytes(file));
            Console.WriteLine($"ok      {file}");
        }
        catch (Exception e)
        {
            failed++;
            Console.WriteLine($"FINDING {file}");
            Console.WriteLine(e);
        }
    }
    return failed == 0 ? 0 : 1;
}
