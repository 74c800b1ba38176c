using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;

namespace CmpCluster.Grains.Telemetry;

/// <summary>
/// The CA's instruments: one ActivitySource and one Meter named <see cref="Name"/>, fixed instrument and tag
/// names. Storage latency comes from Orleans' own meter (orleans-storage-write-latency and friends).
/// </summary>
public static class GrainTelemetry
{
    public const string Name = "CmpCluster.Grains";

    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter Meter = new(Name);

    /// <summary>Requests the transaction engine answered; tags alias, body, outcome (ok, rejected, duplicate, failed), fail_info.</summary>
    public static readonly Counter<long> Requests = Meter.CreateCounter<long>(
        "cmp.requests", "{request}", "CMP requests answered by the transaction engine");

    /// <summary>Time in the transaction grain per request, decode to protected answer; tags alias, body, outcome.</summary>
    public static readonly Histogram<double> RequestDuration = Meter.CreateHistogram<double>(
        "cmp.request.duration", "ms", "Time the transaction engine spent on one CMP request");

    /// <summary>Calls to silo-internal grain interfaces refused because the caller was not a grain; tag interface.</summary>
    public static readonly Counter<long> RefusedCalls = Meter.CreateCounter<long>(
        "cmp.grains.refused_calls", "{call}", "Calls to silo-internal grain interfaces refused because the caller is not a grain of this cluster");

    /// <summary>One signature with a key of the ring; tags key (issuing, issuing/cmp, ...), operation (certificate, response, crl, ocsp).</summary>
    public static readonly Histogram<double> SigningDuration = Meter.CreateHistogram<double>(
        "cmp.signing.duration", "ms", "Time of one signature with a CA or CMP signer key");

    /// <summary>Certificates signed; tags ca, profile.</summary>
    public static readonly Counter<long> CertificatesIssued = Meter.CreateCounter<long>(
        "cmp.certificates.issued", "{certificate}", "Certificates signed");

    /// <summary>Certificates revoked; tags ca, reason.</summary>
    public static readonly Counter<long> CertificatesRevoked = Meter.CreateCounter<long>(
        "cmp.certificates.revoked", "{certificate}", "Certificates revoked (by rr, rejection, failed certConf or confirm timeout)");

    /// <summary>
    /// Seconds until each certificate of each CA ends (tags ca, certificate: ca, root, cmp-signer, ocsp-signer), read from
    /// whatever <see cref="ObserveCertificateExpiry"/> was last given; negative once expired.
    /// </summary>
    private static readonly ObservableGauge<double> CertificateExpiry = Meter.CreateObservableGauge(
        "cmp.ca.certificate.expiry", () => s_expiry?.Invoke() ?? [], "s", "Time until a CA, root or signer certificate ends");

    private static Func<IEnumerable<Measurement<double>>>? s_expiry;

    /// <summary>What <c>cmp.ca.certificate.expiry</c> reports (the silo's key ring, set at start).</summary>
    public static void ObserveCertificateExpiry(Func<IEnumerable<Measurement<double>>> observe) => s_expiry = observe;

    /// <summary>
    /// The id that ties a client's error to the server's log and trace: the trace id when tracing is on, else 16 random
    /// hex digits. It is put in the CMP error's freeText, so an operator can find why a device was refused.
    /// </summary>
    public static string NewDiagnosticId(Activity? activity) =>
        activity is { TraceId: var trace } && trace != default ? trace.ToHexString() : RandomNumberGenerator.GetHexString(16, lowercase: true);
}
