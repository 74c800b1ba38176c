using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// Watches the end of every certificate a CA depends on (its own, its root's, its CMP signer's and OCSP signer's): the
/// metric <c>cmp.ca.certificate.expiry</c> always, a log warning once one ends within <see cref="PkiOptions.ExpiryWarningDays"/>,
/// an error once it has ended. RFC 5280 §6.1 makes nothing issued by an expired CA valid; certificates this CA issues
/// never outlive it (grains/Certificates/CertificateIssuer.cs), so they shorten as it nears its end.
/// </summary>
public sealed partial class CaExpiryMonitor(PkiKeyRing keys, IOptions<PkiOptions> options, TimeProvider time, ILogger<CaExpiryMonitor> logger)
    : BackgroundService
{
    /// <summary>How often the log is checked again after start.</summary>
    public static readonly TimeSpan CheckPeriod = TimeSpan.FromHours(12);

    /// <summary>Each CA's certificates by role, with the time left until each ends.</summary>
    public IEnumerable<(string Ca, string Certificate, TimeSpan Left)> Remaining()
    {
        DateTimeOffset now = time.GetUtcNow();
        foreach (CertificateAuthorityKeys ca in keys.Authorities)
        {
            foreach ((string role, X509CertificateStructure certificate) in new[]
            {
                ("ca", ca.Ca.Certificate), ("root", ca.Root), ("cmp-signer", ca.CmpSigner.Certificate), ("ocsp-signer", ca.OcspSigner.Certificate),
            })
            {
                yield return (ca.Name, role, new DateTimeOffset(certificate.EndDate.ToDateTime().ToUniversalTime()) - now);
            }
        }
    }

    /// <summary>Logs each certificate that ends within the warning window (or has ended); returns how many it logged.</summary>
    public int Check()
    {
        var window = TimeSpan.FromDays(options.Value.ExpiryWarningDays);
        int logged = 0;
        foreach ((string ca, string role, TimeSpan left) in Remaining())
        {
            if (left <= TimeSpan.Zero)
            {
                LogExpired(logger, ca, role);
                logged++;
            }
            else if (left <= window)
            {
                LogEndsSoon(logger, ca, role, (int)Math.Ceiling(left.TotalDays));
                logged++;
            }
        }
        return logged;
    }

    /// <summary>The metric reads this silo's key ring from start (ExecuteAsync itself runs later, on the thread pool).</summary>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        Telemetry.GrainTelemetry.ObserveCertificateExpiry(() => Remaining()
            .Select(r => new Measurement<double>(r.Left.TotalSeconds, new("ca", r.Ca), new("certificate", r.Certificate))).ToArray());
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(CheckPeriod, time);
        do
        {
            Check();
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(EventId = 310, Level = LogLevel.Warning,
        Message = "CA {Ca}: the {Certificate} certificate ends in {Days} days; renew it (or roll the root over) before then")]
    private static partial void LogEndsSoon(ILogger logger, string ca, string certificate, int days);

    [LoggerMessage(EventId = 311, Level = LogLevel.Error,
        Message = "CA {Ca}: the {Certificate} certificate has ended; what it signs is no longer valid (RFC 5280 §6.1)")]
    private static partial void LogExpired(ILogger logger, string ca, string certificate);
}
