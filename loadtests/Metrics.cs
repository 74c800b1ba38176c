using System.Collections.Concurrent;
using System.Diagnostics;
using HdrHistogram;

namespace CmpCluster.LoadTests;

/// <summary>
/// Latency histograms per message type (µs, HdrHistogram, 3 significant digits), errors by kind, and two interval
/// recorders of whole transactions: one for the per-second progress line, one for the periodic samples
/// (<c>--samples</c>). Only measured (post-warm-up) work is recorded in the final figures; the intervals also see the
/// warm-up.
/// </summary>
public sealed class Metrics
{
    internal const long HighestMicros = 60_000_000;
    private readonly ConcurrentDictionary<string, LongConcurrentHistogram> _latency = new();
    private readonly ConcurrentDictionary<string, int> _errors = new();
    private long _transactions;
    private long _errorCount;
    private long _dropped;
    private long _rateLimited;

    /// <summary>Since the last progress line.</summary>
    public IntervalMetrics Progress { get; } = new();

    /// <summary>Since the last sample row; its own recorder, so the progress line and the samples do not steal each other's figures.</summary>
    public IntervalMetrics Window { get; } = new();

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
        Progress.Transaction(micros);
        Window.Transaction(micros);
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
        Progress.Error();
        Window.Error();
        if (counted)
        {
            Interlocked.Increment(ref _errorCount);
            _errors.AddOrUpdate(what, 1, (_, n) => n + 1);
        }
    }

    /// <summary>A request refused with HTTP 429 (a gateway rate limit): its own outcome, not an error.</summary>
    public void RateLimit(bool counted)
    {
        Progress.RateLimit();
        Window.RateLimit();
        if (counted)
        {
            Interlocked.Increment(ref _rateLimited);
        }
    }

    /// <summary>An open-model arrival that found every allowed transaction in flight.</summary>
    public void Drop(bool counted)
    {
        Progress.Drop();
        Window.Drop();
        if (counted)
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    private void Record(string name, long micros) =>
        _latency.GetOrAdd(name, _ => new LongConcurrentHistogram(1, HighestMicros, 3)).RecordValue(Math.Clamp(micros, 1, HighestMicros));

    private static long Micros(long startedTimestamp) => Math.Max(1, (long)Stopwatch.GetElapsedTime(startedTimestamp).TotalMicroseconds);
}

/// <summary>Whole transactions, errors, rate-limited (429) answers and open-model drops since the last
/// <see cref="Take"/>, warm-up or not.</summary>
public sealed class IntervalMetrics
{
    private readonly Recorder _latency = new(1, Metrics.HighestMicros, 3, (id, low, high, digits) => new LongConcurrentHistogram(id, low, high, digits));
    private long _errors;
    private long _rateLimited;
    private long _dropped;

    internal void Transaction(long micros)
    {
        _latency.RecordValue(Math.Clamp(micros, 1, Metrics.HighestMicros));
    }

    internal void Error() => Interlocked.Increment(ref _errors);

    internal void RateLimit() => Interlocked.Increment(ref _rateLimited);

    internal void Drop() => Interlocked.Increment(ref _dropped);

    /// <summary>
    /// The figures since the last call, and a fresh interval from now on. Transactions are counted by the latency histogram
    /// itself: a counter of their own, read a moment apart from the histogram, put a transaction in one window and its
    /// latency in the next (a window with transactions and no p99).
    /// </summary>
    public IntervalSnapshot Take()
    {
        HistogramBase latency = _latency.GetIntervalHistogram();
        return new(latency.TotalCount, Interlocked.Exchange(ref _errors, 0), Interlocked.Exchange(ref _rateLimited, 0),
            Interlocked.Exchange(ref _dropped, 0), latency);
    }
}

/// <summary>One interval of <see cref="IntervalMetrics"/>; latency of the transactions completed in it.</summary>
public readonly record struct IntervalSnapshot(long Transactions, long Errors, long RateLimited, long Dropped, HistogramBase Latency);

/// <summary>User + system CPU time of a process.</summary>
public readonly record struct CpuSample(TimeSpan Cpu)
{
    public static CpuSample operator -(CpuSample a, CpuSample b) => new(a.Cpu - b.Cpu);

    public static CpuSample OfThisProcess() => new(Process.GetCurrentProcess().TotalProcessorTime);

    /// <summary>The sum over several processes (a cluster: silos, gateways, Redis, HAProxy); null when none is given.</summary>
    public static CpuSample? OfProcesses(IReadOnlyList<int> pids) =>
        pids.Count == 0 ? null : pids.Aggregate(new CpuSample(TimeSpan.Zero), (sum, pid) => new CpuSample(sum.Cpu + OfProcess(pid).Cpu));

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
