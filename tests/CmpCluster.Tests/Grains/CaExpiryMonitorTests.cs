using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using CmpCluster.Grains.Pki;
using CmpCluster.Grains.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// The CA certificate expiry watch: time left per certificate as a metric, a warning within Pki:ExpiryWarningDays, an
/// error once ended. The development PKI's signers live 2 years, the issuing CA 10, the root 20.
/// </summary>
public sealed class CaExpiryMonitorTests
{
    private sealed class Lines : ILogger<CaExpiryMonitor>
    {
        public ConcurrentQueue<(LogLevel Level, string Text)> Logged { get; } = new();

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Logged.Enqueue((logLevel, formatter(state, exception)));
    }

    private static (CaExpiryMonitor Monitor, Lines Log, ShiftableClock Clock) Monitor()
    {
        var log = new Lines();
        var clock = new ShiftableClock();
        return (new CaExpiryMonitor(TestPki.KeyRing, Options.Create(new PkiOptions { ExpiryWarningDays = 90 }), clock, log), log, clock);
    }

    [Fact]
    public void Fresh_certificates_log_nothing_and_the_metric_reports_each_ones_time_left()
    {
        (CaExpiryMonitor monitor, Lines log, _) = Monitor();

        Assert.Equal(0, monitor.Check());
        Assert.Empty(log.Logged);
        var remaining = monitor.Remaining().ToDictionary(r => r.Certificate, r => r.Left.TotalDays);
        Assert.Equal(["ca", "cmp-signer", "ocsp-signer", "root"], remaining.Keys.Order());
        Assert.InRange(remaining["cmp-signer"], 2 * 365 - 3, 2 * 366);
        Assert.InRange(remaining["root"], 20 * 365 - 3, 20 * 366);
    }

    [Fact]
    public void Signers_that_end_within_the_window_are_warned_of_and_ended_ones_are_errors()
    {
        (CaExpiryMonitor monitor, Lines log, ShiftableClock clock) = Monitor();

        clock.Advance(TimeSpan.FromDays(2 * 365 - 40));
        Assert.Equal(2, monitor.Check()); // the CMP and OCSP signers, about 40 days left
        Assert.All(log.Logged, line => Assert.Equal(LogLevel.Warning, line.Level));
        Assert.Contains(log.Logged, line => line.Text.Contains("cmp-signer certificate ends in", StringComparison.Ordinal));

        log.Logged.Clear();
        clock.Advance(TimeSpan.FromDays(60));
        Assert.Equal(2, monitor.Check());
        Assert.All(log.Logged, line => Assert.Equal(LogLevel.Error, line.Level));
    }

    [Fact]
    public async Task The_metric_carries_the_seconds_left_per_ca_and_certificate()
    {
        (CaExpiryMonitor monitor, _, _) = Monitor();
        await monitor.StartAsync(CancellationToken.None);
        var seen = new ConcurrentDictionary<string, double>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == GrainTelemetry.Name && instrument.Name == "cmp.ca.certificate.expiry")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            string key = string.Join('/', tags.ToArray().Select(t => t.Value));
            seen[key] = value;
        });
        listener.Start();

        listener.RecordObservableInstruments();
        await monitor.StopAsync(CancellationToken.None);

        Assert.True(seen.TryGetValue($"{TestPki.KeyRing.Authorities.First().Name}/cmp-signer", out double seconds), string.Join(", ", seen.Keys));
        Assert.InRange(seconds, TimeSpan.FromDays(2 * 365 - 3).TotalSeconds, TimeSpan.FromDays(2 * 366).TotalSeconds);
    }
}
