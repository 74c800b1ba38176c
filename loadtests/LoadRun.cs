using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using HdrHistogram;

namespace CmpCluster.LoadTests;

/// <summary>
/// One load run: prepare the virtual devices (keys, and for renew a first certificate; for rr a pool of certificates),
/// none of it measured; then either the closed model (<see cref="LoadOptions.Concurrency"/> devices each running
/// transactions back to back) or the open model (<see cref="LoadOptions.Rate"/> arrivals per second, linear ramp, at
/// most <see cref="LoadOptions.MaxInFlight"/> in flight). Transactions that start after the warm-up are measured; the
/// run ends after the duration or the count, and waits for the transactions in flight.
/// </summary>
public sealed class LoadRun(LoadOptions options, TextWriter? progress = null)
{
    /// <summary>Pool sizing when no run rate is known (closed model, no --count): a generous rr rate on this machine.</summary>
    private const double AssumedRevocationsPerSecond = 400;

    private readonly Metrics _metrics = new();
    private readonly string _runId = RandomNumberGenerator.GetHexString(6, lowercase: true);
    private long _claimed;
    private volatile bool _stop;
    private volatile string? _stoppedEarly;

    public async Task<LoadReport> RunAsync()
    {
        var handler = new SocketsHttpHandler { MaxConnectionsPerServer = options.Devices, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (options.SourceAddress is { } source)
        {
            handler.ConnectCallback = (context, cancel) => ConnectFromAsync(source, context.DnsEndPoint, cancel);
        }
        using var http = new HttpClient(handler)
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        var transactions = new DeviceTransactions(options, http, _metrics, _runId);
        VirtualDevice[] devices = Enumerable.Range(0, options.Devices).Select(i => new VirtualDevice(i, _runId)).ToArray();
        Dictionary<string, int> weights = options.Scenario == "device-lifecycle"
            ? options.Mix.Where(p => p.Value > 0).ToDictionary()
            : new Dictionary<string, int> { [options.Scenario] = 1 };
        if (await PrepareAsync(transactions, devices, weights) is { } failure)
        {
            return Report(failure);
        }

        var clock = Stopwatch.StartNew();
        CpuSample clientStart = CpuSample.OfThisProcess();
        CpuSample? serverStart = CpuSample.OfProcesses(options.ServerPids);
        Task sampler = Task.Run(async () =>
        {
            await Task.Delay(options.Warmup);
            clientStart = CpuSample.OfThisProcess();
            serverStart = CpuSample.OfProcesses(options.ServerPids);
        });
        using var loopsStop = new CancellationTokenSource();
        Task progressLoop = options.Progress && progress is not null ? ProgressAsync(clock, progress, loopsStop.Token) : Task.CompletedTask;
        // Failures of setup (the rr pool, device certificates) must not count in the first window.
        _metrics.Window.Take();
        Task samplesLoop = options.SamplesPath is { } samplesPath ? SamplesAsync(clock, samplesPath, loopsStop.Token) : Task.CompletedTask;

        var picker = new ScenarioPicker(weights);
        if (options.OpenModel)
        {
            await OpenModelAsync(transactions, devices, picker, clock);
        }
        else
        {
            await Task.WhenAll(devices.Select(device => Task.Run(() => ClosedLoopAsync(transactions, device, picker, clock))));
        }
        await sampler;
        TimeSpan measured = clock.Elapsed - options.Warmup;
        CpuSample clientEnd = CpuSample.OfThisProcess();
        CpuSample? serverEnd = CpuSample.OfProcesses(options.ServerPids);
        await loopsStop.CancelAsync();
        await progressLoop;
        await samplesLoop;
        return Report(_stoppedEarly, measured, clientEnd - clientStart, serverEnd - serverStart);
    }

    private LoadReport Report(string? stoppedEarly, TimeSpan measured = default, CpuSample client = default, CpuSample? server = null) =>
        new(options, _metrics.Transactions, measured, _metrics.Latency, _metrics.Errors, _metrics.Dropped, _metrics.RateLimited, client, server, stoppedEarly);

    /// <summary>Connections from one local address (<c>--source-address</c>): several generators on one machine look like
    /// different clients to a per-address rate limit (any 127.0.0.0/8 address works on loopback).</summary>
    private static async ValueTask<Stream> ConnectFromAsync(System.Net.IPAddress source, System.Net.DnsEndPoint target, CancellationToken cancel)
    {
        var socket = new System.Net.Sockets.Socket(source.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        try
        {
            socket.Bind(new System.Net.IPEndPoint(source, 0));
            await socket.ConnectAsync(target, cancel);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Setup before the clock starts: device certificates (renew, signed enroll) and the rr pool. Returns why it failed, if it did.</summary>
    private async Task<string?> PrepareAsync(DeviceTransactions transactions, VirtualDevice[] devices, Dictionary<string, int> weights)
    {
        bool needCertificates = weights.ContainsKey("renew") || (weights.ContainsKey("enroll") && options.Protection == Protection.Signature);
        if (needCertificates)
        {
            progress?.WriteLine($"setup: enrolling {devices.Length} devices on {options.RaUrl}");
            bool[] enrolled = await ParallelAsync(devices.Length, i => transactions.EnrollDeviceAsync(devices[i]));
            if (enrolled.Any(ok => !ok))
            {
                return $"setup failed: {enrolled.Count(ok => !ok)} of {devices.Length} devices could not enroll ({Describe(_metrics.Errors)})";
            }
        }
        if (weights.TryGetValue("revoke", out int revokeWeight))
        {
            int pool = options.Pool ?? PoolSize(revokeWeight / (double)weights.Values.Sum());
            progress?.WriteLine($"setup: issuing {pool} certificates to revoke");
            bool[] issued = await ParallelAsync(pool, i => transactions.IssueForPoolAsync(devices[i % devices.Length]));
            if (issued.Any(ok => !ok))
            {
                return $"setup failed: {issued.Count(ok => !ok)} of {pool} certificates to revoke were not issued ({Describe(_metrics.Errors)})";
            }
        }
        return null;
    }

    /// <summary>Enough certificates for the run: what the rate or count implies, or an assumed rr rate; the run ends early if they run out.</summary>
    private int PoolSize(double share)
    {
        double seconds = (options.Warmup + options.Duration).TotalSeconds;
        double expected = options.Count is { } count
            ? count + (options.Rate ?? AssumedRevocationsPerSecond) * options.Warmup.TotalSeconds
            : (options.Rate ?? AssumedRevocationsPerSecond) * seconds;
        return (int)Math.Ceiling(share * expected * 1.1) + options.Devices;
    }

    private async Task ClosedLoopAsync(DeviceTransactions transactions, VirtualDevice device, ScenarioPicker picker, Stopwatch clock)
    {
        while (!_stop && Admit(clock) is { } counted)
        {
            string scenario = picker.Next();
            if (await transactions.RunAsync(scenario, device, counted, picker.Mixed ? scenario : null) == Outcome.PoolEmpty)
            {
                StopEarly(clock, "the pre-issued certificates to revoke ran out (raise --pool)");
            }
        }
    }

    /// <summary>Arrivals follow the ramp whatever the answers take; each takes an idle device or is dropped at the in-flight cap.</summary>
    private async Task OpenModelAsync(DeviceTransactions transactions, VirtualDevice[] devices, ScenarioPicker picker, Stopwatch clock)
    {
        var idle = new System.Collections.Concurrent.ConcurrentQueue<VirtualDevice>(devices);
        long issued = 0;
        while (!_stop)
        {
            TimeSpan now = clock.Elapsed;
            long due = (long)Arrivals(now.TotalSeconds);
            for (; issued < due && !_stop; issued++)
            {
                if (Admit(clock) is not { } counted)
                {
                    break;
                }
                if (!idle.TryDequeue(out VirtualDevice? device))
                {
                    _metrics.Drop(counted);
                    continue;
                }
                string scenario = picker.Next();
                _ = Task.Run(async () =>
                {
                    try
                    {
                        if (await transactions.RunAsync(scenario, device, counted, picker.Mixed ? scenario : null) == Outcome.PoolEmpty)
                        {
                            StopEarly(clock, "the pre-issued certificates to revoke ran out (raise --pool)");
                        }
                    }
                    finally
                    {
                        idle.Enqueue(device);
                    }
                });
            }
            await Task.Delay(1);
        }
        while (idle.Count < devices.Length)
        {
            await Task.Delay(5);
        }
    }

    /// <summary>Transactions due by <paramref name="t"/> seconds: the integral of a rate that rises linearly to R over the ramp.</summary>
    private double Arrivals(double t)
    {
        double rate = options.Rate!.Value, ramp = options.Ramp.TotalSeconds;
        return t < ramp ? rate * t * t / (2 * ramp) : rate * (t - ramp / 2);
    }

    /// <summary>Whether another transaction may start, and if so whether it is measured (null: the run is over).</summary>
    private bool? Admit(Stopwatch clock)
    {
        TimeSpan now = clock.Elapsed;
        bool counted = now >= options.Warmup;
        if (options.Count is { } count)
        {
            if (counted && Interlocked.Increment(ref _claimed) > count)
            {
                _stop = true;
                return null;
            }
            return counted;
        }
        if (now >= options.Warmup + options.Duration)
        {
            _stop = true;
            return null;
        }
        return counted;
    }

    private void StopEarly(Stopwatch clock, string why)
    {
        _stoppedEarly ??= $"stopped at {clock.Elapsed.TotalSeconds:F1} s: {why}";
        _stop = true;
    }

    private async Task ProgressAsync(Stopwatch clock, TextWriter output, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        long lastTicks = clock.ElapsedTicks;
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                IntervalSnapshot interval = _metrics.Progress.Take();
                long nowTicks = clock.ElapsedTicks;
                double seconds = (nowTicks - lastTicks) / (double)Stopwatch.Frequency;
                lastTicks = nowTicks;
                string phase = clock.Elapsed < options.Warmup ? "warm-up " : "measured";
                string dropped = options.OpenModel ? string.Create(CultureInfo.InvariantCulture, $"  dropped {_metrics.Dropped}") : "";
                dropped += _metrics.RateLimited > 0 ? string.Create(CultureInfo.InvariantCulture, $"  429 {_metrics.RateLimited}") : "";
                long errors = interval.Errors + interval.RateLimited;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{clock.Elapsed.TotalSeconds,6:F1} s] {phase} {interval.Transactions / seconds,7:F0} tx/s  errors {errors} (measured {_metrics.ErrorCount})  p50 {Ms(interval.Latency, 50),7:F1} ms  p99 {Ms(interval.Latency, 99),7:F1} ms{dropped}"));
            }
        }
        catch (OperationCanceledException)
        {
            // The run is over.
        }
    }

    /// <summary>Columns of <c>--samples</c>; one row per window, flushed as it is written, so a soak that is cut short keeps its rows.</summary>
    public const string SamplesHeader =
        "unix_time,elapsed_s,window_s,phase,transactions,tx_per_s,errors,rate_limited,dropped,p50_ms,p90_ms,p99_ms,max_ms,server_cpu_ms_per_tx";

    /// <summary>
    /// Periodic windows for long runs (soak): figures of the transactions completed in each window, warm-up included
    /// (phase <c>warmup</c>: the window began in the warm-up), and the last, shorter window when the run ends (window_s
    /// says how long it was).
    /// </summary>
    private async Task SamplesAsync(Stopwatch clock, string path, CancellationToken stop)
    {
        await using var writer = new StreamWriter(path, append: false) { AutoFlush = true };
        await writer.WriteLineAsync(SamplesHeader);
        using var timer = new PeriodicTimer(options.SampleEvery);
        TimeSpan last = clock.Elapsed;
        CpuSample? lastCpu = CpuSample.OfProcesses(options.ServerPids);
        bool running = true;
        while (running)
        {
            try
            {
                running = await timer.WaitForNextTickAsync(stop);
            }
            catch (OperationCanceledException)
            {
                running = false;
            }
            TimeSpan now = clock.Elapsed;
            IntervalSnapshot window = _metrics.Window.Take();
            CpuSample? cpu = CpuSample.OfProcesses(options.ServerPids);
            double seconds = (now - last).TotalSeconds;
            if (seconds <= 0 || (!running && window.Transactions + window.Errors + window.Dropped == 0))
            {
                break; // nothing happened since the last row
            }
            string serverCpu = cpu - lastCpu is { } used && window.Transactions > 0
                ? (used.Cpu.TotalMilliseconds / window.Transactions).ToString("F3", CultureInfo.InvariantCulture)
                : "";
            await writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0:F3},{now.TotalSeconds:F1},{seconds:F2},{(last < options.Warmup ? "warmup" : "measured")},"
                + $"{window.Transactions},{window.Transactions / seconds:F1},{window.Errors},{window.RateLimited},{window.Dropped},"
                + $"{Ms(window.Latency, 50):F2},{Ms(window.Latency, 90):F2},{Ms(window.Latency, 99):F2},{MaxMs(window.Latency):F2},{serverCpu}"));
            last = now;
            lastCpu = cpu;
        }
    }

    private static double MaxMs(HdrHistogram.HistogramBase histogram) => histogram.TotalCount == 0 ? 0 : histogram.GetMaxValue() / 1000.0;

    private static double Ms(HdrHistogram.HistogramBase histogram, double percentile) =>
        histogram.TotalCount == 0 ? 0 : histogram.GetValueAtPercentile(percentile) / 1000.0;

    private static async Task<bool[]> ParallelAsync(int count, Func<int, Task<bool>> work)
    {
        var results = new bool[count];
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, _) => results[i] = await work(i));
        return results;
    }

    private static string Describe(IReadOnlyDictionary<string, int> errors) =>
        errors.Count == 0 ? "no answer" : string.Join(", ", errors.Select(p => $"{p.Value}x {p.Key}"));
}

/// <summary>Picks the scenario of the next transaction by weight (one scenario: always that one).</summary>
public sealed class ScenarioPicker(IReadOnlyDictionary<string, int> weights)
{
    private readonly (string Name, int Upto)[] _table = Cumulative(weights);

    public bool Mixed => _table.Length > 1;

    public string Next()
    {
        if (!Mixed)
        {
            return _table[0].Name;
        }
        int draw = Random.Shared.Next(_table[^1].Upto);
        return _table.First(entry => draw < entry.Upto).Name;
    }

    private static (string Name, int Upto)[] Cumulative(IReadOnlyDictionary<string, int> weights)
    {
        var table = new List<(string, int)>();
        int sum = 0;
        foreach ((string name, int weight) in weights)
        {
            sum += weight;
            table.Add((name, sum));
        }
        return [.. table];
    }
}
