using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/CmpCluster.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
