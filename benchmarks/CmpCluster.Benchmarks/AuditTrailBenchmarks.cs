extern alias silo;

using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using CmpCluster.Grains.Audit;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using silo::CmpCluster.Silo.Audit;

namespace CmpCluster.Benchmarks;

/// <summary>
/// What the audit trail costs per record: <see cref="Appenders"/> concurrent callers append
/// <see cref="RecordsPerInvocation"/> records in all to a <see cref="SqliteAuditStore"/> on a temporary directory
/// (WAL, synchronous=FULL: one fsync per batch) and each waits until its record is durable, as a grain would.
/// Mean is µs per record, Op/s records per second; GlobalCleanup prints the records per store write and the
/// process CPU time per record (all threads: the benchmark's own callers, hashing, SQLite, the fsync's kernel time).
/// </summary>
[Config(typeof(Configuration))]
public class AuditTrailBenchmarks
{
    private const int RecordsPerInvocation = 1024;
    private string _directory = "";
    private SqliteAuditStore _sqlite = null!;
    private CountingStore _store = null!;
    private AuditSigningKey _key = null!;
    private AuditTrail _trail = null!;
    private int _next;
    private TimeSpan _cpuAtStart;

    [Params(1, 16, 64)]
    public int Appenders { get; set; }

    /// <summary><see cref="AuditOptions.MaxBatchDelay"/> in milliseconds.</summary>
    [Params(0, 2)]
    public int MaxBatchDelayMs { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "cmp-audit-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
        _sqlite = new SqliteAuditStore(SqliteAuditStore.PathIn(_directory));
        _store = new CountingStore(_sqlite);
        _key = AuditSigningKey.Ephemeral();
        _trail = new AuditTrail(_store, _key, Options.Create(new AuditOptions
        {
            NodeName = "bench",
            MaxBatchDelay = TimeSpan.FromMilliseconds(MaxBatchDelayMs),
        }), TimeProvider.System, NullLogger<AuditTrail>.Instance, []);
        _trail.StartAsync().GetAwaiter().GetResult();
        _cpuAtStart = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        double cpuMicroseconds = (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - _cpuAtStart).TotalMicroseconds;
        _trail.StopAsync().GetAwaiter().GetResult();
        Console.WriteLine($"// audit: {Appenders} appenders, delay {MaxBatchDelayMs} ms: {_store.Records} records in {_store.Writes} writes = "
            + $"{(double)_store.Records / _store.Writes:0.0} records per write, process CPU {cpuMicroseconds / _store.Records:0.0} µs per record");
        _sqlite.Dispose();
        _key.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    [Benchmark(OperationsPerInvoke = RecordsPerInvocation)]
    public Task Append() =>
        Task.WhenAll(Enumerable.Range(0, Appenders).Select(_ => Task.Run(AppendSomeAsync)));

    private async Task AppendSomeAsync()
    {
        for (int i = 0; i < RecordsPerInvocation / Appenders; i++)
        {
            int n = Interlocked.Increment(ref _next);
            // About the size of a real record: a CA and serial as the target, a transactionID as the detail.
            await _trail.AppendAsync(new AuditEvent(AuditEventType.CertificateSigned, "ra", $"issuing/{n:X32}", $"transaction={n:x32}"));
        }
    }

    /// <summary>In-process (nothing to rebuild), one invocation per iteration: each is ≈ 1 024 durable appends.</summary>
    private sealed class Configuration : ManualConfig
    {
        public Configuration()
        {
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).WithStrategy(RunStrategy.Monitoring)
                .WithWarmupCount(2).WithIterationCount(8));
            AddColumn(StatisticColumn.OperationsPerSecond);
        }
    }

    private sealed class CountingStore(IAuditStore inner) : IAuditStore
    {
        private long _records;
        private long _writes;

        public long Records => Interlocked.Read(ref _records);
        public long Writes => Interlocked.Read(ref _writes);

        public async Task AppendAsync(IReadOnlyList<AuditRecord> records, CancellationToken cancellationToken = default)
        {
            await inner.AppendAsync(records, cancellationToken);
            Interlocked.Add(ref _records, records.Count);
            Interlocked.Increment(ref _writes);
        }

        public Task<AuditChainHead?> ReadHeadAsync(string chainId, CancellationToken cancellationToken = default) => inner.ReadHeadAsync(chainId, cancellationToken);
        public Task<IReadOnlyList<string>> ReadChainIndexAsync(CancellationToken cancellationToken = default) => inner.ReadChainIndexAsync(cancellationToken);
        public Task<AuditPage> ReadAsync(string? cursor, int limit, CancellationToken cancellationToken = default) => inner.ReadAsync(cursor, limit, cancellationToken);
    }
}
