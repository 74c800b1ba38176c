using System.Collections.Concurrent;
using System.Diagnostics;
using HdrHistogram;

namespace CmpCluster.LoadTests;

/// <summary>
/// Latency histograms per message type (µs, HdrHistogram, 3 significant digits), errors by kind, and an interval
/// recorder of whole transactions for the per-second progress line. Only measured (post-warm-up) work is recorded
/// in the final figures; the progress line also shows the warm-up.
/// </summary>
public sealed class Metrics
{
    private const long HighestMicros = 60_000_000;
    private readonly ConcurrentDictionary<string, LongConcurrentHistogram> _latency = new();
    private readonly ConcurrentDictionary<string, int> _errors = new();
    private readonly Recorder _interval = new(1, HighestMicros, 3, (id, low, high, digits) => new LongConcurrentHistogram(id, low, high, digits));
    private long _transactions;
    private long _intervalTransactions;
    private long _intervalErrors;
    private long _errorCount;
    private long _dropped;
    private long _rateLimited;

    public long Transactions => Interlocked.Read(ref _transactions);
    public long ErrorCount => Interlocked.Read(ref _errorCount);
    public long Dropped => Interlocked.Read(ref _dropped);
    public long RateLimited => Interlocked.Read(ref _rateLimited);

    public IReadOnlyDictionary<string, HistogramBase> Latency => _latency.ToDictionary(p => p.Key, p => (HistogramBase)p.Value);
    public IReadOnlyDictionary<string, int> Errors => _errors.ToDictionary(p => p.Key, p => p.Value);

    /// <summary>One request/response exchange (ir, certConf, kur, rr).</summary>
    public void Message(string name, long startedTimestamp, bool counted)
    {
        if (counted)
        {
            Record(name, Micros(startedTimestamp));
        }
    }

    /// <summary>A whole transaction; with the scenario name too when runs mix scenarios.</summary>
    public void Transaction(string? scenario, long startedTimestamp, bool counted)
    {
        long micros = Micros(startedTimestamp);
        _interval.RecordValue(Math.Min(micros, HighestMicros));
        Interlocked.Increment(ref _intervalTransactions);
        if (!counted)
        {
            return;
        }
        Record("transaction", micros);
        if (scenario is not null)
        {
            Record("transaction:" + scenario, micros);
        }
        Interlocked.Increment(ref _transactions);
    }

    public void Error(string what, bool counted)
    {
        Interlocked.Increment(ref _intervalErrors);
        if (counted)
        {
            Interlocked.Increment(ref _errorCount);
            _errors.AddOrUpdate(what, 1, (_, n) => n + 1);
        }
    }

    /// <summary>A request refused with HTTP 429 (a gateway rate limit): its own outcome, not an error.</summary>
    public void RateLimit(bool counted)
    {
        Interlocked.Increment(ref _intervalErrors);
        if (counted)
        {
            Interlocked.Increment(ref _rateLimited);
        }
    }

    /// <summary>An open-model arrival that found every allowed transaction in flight.</summary>
    public void Drop(bool counted)
    {
        if (counted)
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>Transactions, errors and latency since the last call (for the progress line).</summary>
    public (long Transactions, long Errors, HistogramBase Latency) TakeInterval() =>
        (Interlocked.Exchange(ref _intervalTransactions, 0), Interlocked.Exchange(ref _intervalErrors, 0), _interval.GetIntervalHistogram());

    private void Record(string name, long micros) =>
        _latency.GetOrAdd(name, _ => new LongConcurrentHistogram(1, HighestMicros, 3)).RecordValue(Math.Clamp(micros, 1, HighestMicros));

    private static long Micros(long startedTimestamp) => Math.Max(1, (long)Stopwatch.GetElapsedTime(startedTimestamp).TotalMicroseconds);
}

/// <summary>User + system CPU time of a process.</summary>
public readonly record struct CpuSample(TimeSpan Cpu)
{
    public static CpuSample operator -(CpuSample a, CpuSample b) => new(a.Cpu - b.Cpu);

    public static CpuSample OfThisProcess() => new(Process.GetCurrentProcess().TotalProcessorTime);

    /// <summary>From /proc/PID/stat (utime + stime in clock ticks, 100 per second on Linux).</summary>
    public static CpuSample OfProcess(int? pid)
    {
        if (pid is null || !File.Exists($"/proc/{pid}/stat"))
        {
            return default;
        }
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long ticks = long.Parse(fields[11]) + long.Parse(fields[12]);
        return new CpuSample(TimeSpan.FromSeconds(ticks / 100.0));
    }
}
