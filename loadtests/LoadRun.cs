using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using HdrHistogram;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.LoadTests;

/// <summary>
/// Closed-model run: <see cref="LoadOptions.Concurrency"/> virtual devices each run complete transactions back to
/// back (ir [+ certConf]) for warm-up plus duration; only transactions that start after the warm-up are counted.
/// </summary>
public sealed class LoadRun(LoadOptions options)
{
    private readonly ConcurrentDictionary<string, LongConcurrentHistogram> _latency = new();
    private readonly ConcurrentDictionary<string, int> _errors = new();
    private long _transactions;

    public async Task<LoadReport> RunAsync()
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = options.Concurrency, PooledConnectionLifetime = TimeSpan.FromMinutes(5) });
        // Device keys are made ahead so key generation never competes with the measured run.
        ECDsa[] keys = Enumerable.Range(0, options.Concurrency).Select(_ => ECDsa.Create(ECCurve.NamedCurves.nistP256)).ToArray();

        var clock = Stopwatch.StartNew();
        TimeSpan measuredFrom = options.Warmup;
        TimeSpan end = options.Warmup + options.Duration;
        CpuSample clientStart = default, serverStart = default;
        Task sampler = Task.Run(async () =>
        {
            await Task.Delay(options.Warmup);
            clientStart = CpuSample.OfThisProcess();
            serverStart = CpuSample.OfProcess(options.ServerPid);
        });
        Task[] devices = keys.Select((key, index) => Task.Run(() => DeviceLoopAsync(http, key, index, clock, measuredFrom, end))).ToArray();
        await Task.WhenAll(devices);
        await sampler;
        TimeSpan measured = clock.Elapsed - measuredFrom;
        CpuSample clientEnd = CpuSample.OfThisProcess();
        CpuSample serverEnd = CpuSample.OfProcess(options.ServerPid);

        return new LoadReport(options, _transactions, measured, _latency.ToDictionary(p => p.Key, p => (HistogramBase)p.Value),
            _errors.ToDictionary(p => p.Key, p => p.Value), clientEnd - clientStart,
            options.ServerPid is null ? null : serverEnd - serverStart);
    }

    private async Task DeviceLoopAsync(HttpClient http, ECDsa key, int device, Stopwatch clock, TimeSpan measuredFrom, TimeSpan end)
    {
        long sequence = 0;
        while (clock.Elapsed < end)
        {
            bool counted = clock.Elapsed >= measuredFrom;
            var session = new CmpClientSession(options.Secret, options.Reference, options.PbmIterations);
            var subject = new X509Name($"CN=load-{device}-{sequence++},O=CmpCluster LoadTests");
            bool implicitConfirm = options.Scenario == "enroll-implicit";
            long started = Stopwatch.GetTimestamp();
            CmpResponseView? ip = await ExchangeAsync(http, "ir", session, session.BuildEnrollment(true, subject, key, implicitConfirm), PkiBodyType.Ip, counted);
            if (ip is null)
            {
                continue;
            }
            if (!implicitConfirm)
            {
                CmpResponseView? conf = await ExchangeAsync(http, "certConf", session, session.BuildCertConf(ip.CertificateDer!), PkiBodyType.PkiConf, counted);
                if (conf is null)
                {
                    continue;
                }
            }
            if (counted)
            {
                Record("transaction", Stopwatch.GetElapsedTime(started));
                Interlocked.Increment(ref _transactions);
            }
        }
    }

    private async Task<CmpResponseView?> ExchangeAsync(HttpClient http, string name, CmpClientSession session, byte[] request, PkiBodyType expected, bool counted)
    {
        long started = Stopwatch.GetTimestamp();
        using var content = new ByteArrayContent(request);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/pkixcmp");
        try
        {
            using HttpResponseMessage response = await http.PostAsync(options.Url, content);
            if (!response.IsSuccessStatusCode)
            {
                Error(counted, $"{name}: HTTP {(int)response.StatusCode}");
                return null;
            }
            CmpResponseView view = session.Read(await response.Content.ReadAsByteArrayAsync());
            if (view.BodyType != expected)
            {
                Error(counted, $"{name}: {view.BodyType} {string.Join("|", view.FailInfo)}");
                return null;
            }
            if (counted)
            {
                Record(name, Stopwatch.GetElapsedTime(started));
            }
            return view;
        }
        catch (HttpRequestException e)
        {
            Error(counted, $"{name}: {e.HttpRequestError}");
            return null;
        }
    }

    private void Record(string name, TimeSpan elapsed) =>
        _latency.GetOrAdd(name, _ => new LongConcurrentHistogram(1, 60_000_000, 3)).RecordValue(Math.Max(1, (long)elapsed.TotalMicroseconds));

    private void Error(bool counted, string what)
    {
        if (counted)
        {
            _errors.AddOrUpdate(what, 1, (_, n) => n + 1);
        }
    }
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
