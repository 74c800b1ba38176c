using System.Collections.Concurrent;
using CmpCluster.Gateway.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.RateLimiting;

/// <summary>
/// Accounts for refused requests: the <c>cmp.gateway.rate_limited</c> counter per request (tags transport, limit and alias;
/// never the client address, whose values are unbounded) and one summary log line per <see cref="RateLimitOptions.LogInterval"/>
/// with the top offending addresses; never a line per refused request, which would let an attacker flood the log.
/// </summary>
public sealed partial class RateLimitReporter(IOptions<RateLimitOptions> options, ILogger<RateLimitReporter> logger) : BackgroundService
{
    /// <summary>Addresses remembered per window; beyond that (a spread-out flood) they count as "others".</summary>
    private const int MaxTrackedAddresses = 10_000;
    private const int TopOffenders = 5;

    private Window _window = new();

    /// <summary>One refused request (HTTP) or frame or connection (TCP).</summary>
    public void Refused(string transport, RateLimitKind kind, string alias, string addressKey)
    {
        CmpTelemetry.RecordRateLimited(transport, Tag(kind), alias);
        Window window = Volatile.Read(ref _window);
        if (transport == "tcp")
        {
            Interlocked.Increment(ref window.Tcp);
        }
        else
        {
            Interlocked.Increment(ref window.Http);
        }
        if (window.ByAddress.Count < MaxTrackedAddresses || window.ByAddress.ContainsKey(addressKey))
        {
            window.ByAddress.AddOrUpdate(addressKey, 1, (_, n) => n + 1);
        }
        else
        {
            Interlocked.Increment(ref window.Untracked);
        }
    }

    public static string Tag(RateLimitKind kind) => kind switch
    {
        RateLimitKind.Address => "address",
        RateLimitKind.Alias => "alias",
        _ => "alias_concurrency",
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        TimeSpan interval = options.Value.LogInterval;
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Flush(interval);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        Flush(interval);
    }

    private void Flush(TimeSpan interval)
    {
        Window window = Interlocked.Exchange(ref _window, new Window());
        long http = Interlocked.Read(ref window.Http), tcp = Interlocked.Read(ref window.Tcp);
        if (http + tcp == 0)
        {
            return;
        }
        IEnumerable<string> top = window.ByAddress.OrderByDescending(p => p.Value).Take(TopOffenders).Select(p => $"{p.Key} ({p.Value})");
        long others = Interlocked.Read(ref window.Untracked);
        string offenders = string.Join(", ", others > 0 ? top.Append($"untracked addresses ({others})") : top);
        LogSummary(logger, http + tcp, interval.TotalSeconds, http, tcp, window.ByAddress.Count, offenders);
    }

    private sealed class Window
    {
        public readonly ConcurrentDictionary<string, long> ByAddress = new();
        public long Http;
        public long Tcp;
        public long Untracked;
    }

    [LoggerMessage(EventId = 430, Level = LogLevel.Warning,
        Message = "{Count} requests rate-limited in the last {Seconds} s (HTTP {Http}, TCP {Tcp}) from {Addresses} addresses; top offenders: {Offenders}")]
    private static partial void LogSummary(ILogger logger, long count, double seconds, long http, long tcp, int addresses, string offenders);
}
