using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.LoadTests;

/// <summary>
/// One simulated device. Its two P-256 keys are made before the run and alternate: a kur must bring a key other
/// than the one it replaces, and generating keys inside the measured run would make the generator the bottleneck.
/// </summary>
public sealed class VirtualDevice(int index, string runId)
{
    private readonly ECDsa[] _keys = [ECDsa.Create(ECCurve.NamedCurves.nistP256), ECDsa.Create(ECCurve.NamedCurves.nistP256)];
    private int _current;
    private long _sequence;

    public int Index { get; } = index;

    /// <summary>The device's own identity (renew, signed enroll); the end entity RA mode names after it.</summary>
    public X509Name Subject { get; } = new($"CN=load-{runId}-{index},O=CmpCluster LoadTests");

    public ECDsa Key => _keys[_current];
    public ECDsa NextKey => _keys[1 - _current];
    public byte[]? Certificate { get; private set; }

    /// <summary>A fresh subject per RA enrollment, so each one is a new end entity (as a fleet of new devices).</summary>
    public X509Name NextEnrollmentSubject(string runId) => new($"CN=load-{runId}-{Index}-{_sequence++},O=CmpCluster LoadTests");

    public void Adopt(byte[] certificate, bool rolledKey)
    {
        Certificate = certificate;
        if (rolledKey)
        {
            _current = 1 - _current;
        }
    }
}

/// <summary>What became of a transaction.</summary>
public enum Outcome
{
    Completed = 0,
    Failed = 1,
    /// <summary>No pre-issued certificate left to revoke: the run ends.</summary>
    PoolEmpty = 2,
}

/// <summary>
/// The CMP flows of every scenario, over HTTP. Each returns the outcome and records the latency of each message and of
/// the whole transaction when <c>counted</c> (started after the warm-up). Responses are parsed, not verified: the
/// generator measures the server and spends as little CPU as it can.
/// </summary>
public sealed class DeviceTransactions(LoadOptions options, HttpClient http, Metrics metrics, string runId)
{
    private readonly ConcurrentQueue<byte[]> _pool = new();

    public int PoolSize => _pool.Count;

    public Task<Outcome> RunAsync(string scenario, VirtualDevice device, bool counted, string? label) => scenario switch
    {
        "enroll" when options.Protection == Protection.Signature => EnrollSignedAsync(device, counted, label),
        "enroll" => EnrollAsync(device, implicitConfirm: false, counted, label),
        "enroll-implicit" => EnrollAsync(device, implicitConfirm: true, counted, label),
        "renew" => RenewAsync(device, counted, label),
        "revoke" => RevokeAsync(counted, label),
        _ => throw new ArgumentOutOfRangeException(nameof(scenario), scenario, "unknown scenario"),
    };

    /// <summary>Setup, not measured: the device's first certificate, from the RA with implicit confirmation.</summary>
    public async Task<bool> EnrollDeviceAsync(VirtualDevice device)
    {
        var session = new CmpClientSession(options.Secret, options.Reference, options.PbmIterations);
        CmpResponseView? ip = await ExchangeAsync(options.RaUrl, "setup ir", session,
            session.BuildEnrollment(true, device.Subject, device.Key, implicitConfirm: true), PkiBodyType.Ip, counted: true, record: false);
        if (ip?.CertificateDer is not { } certificate)
        {
            return false;
        }
        device.Adopt(certificate, rolledKey: false);
        return true;
    }

    /// <summary>Setup, not measured: one more certificate for an rr later.</summary>
    public async Task<bool> IssueForPoolAsync(VirtualDevice device)
    {
        var session = new CmpClientSession(options.Secret, options.Reference, options.PbmIterations);
        CmpResponseView? ip = await ExchangeAsync(options.RaUrl, "setup ir", session,
            session.BuildEnrollment(true, device.NextEnrollmentSubject(runId), device.Key, implicitConfirm: true), PkiBodyType.Ip, counted: true, record: false);
        if (ip?.CertificateDer is not { } certificate)
        {
            return false;
        }
        _pool.Enqueue(certificate);
        return true;
    }

    /// <summary>ir [+ certConf] on the RA alias, PBM, a new end entity each time.</summary>
    private async Task<Outcome> EnrollAsync(VirtualDevice device, bool implicitConfirm, bool counted, string? label)
    {
        long started = Stopwatch.GetTimestamp();
        var session = new CmpClientSession(options.Secret, options.Reference, options.PbmIterations);
        CmpResponseView? ip = await ExchangeAsync(options.RaUrl, "ir", session,
            session.BuildEnrollment(true, device.NextEnrollmentSubject(runId), device.Key, implicitConfirm), PkiBodyType.Ip, counted);
        if (ip is null)
        {
            return Outcome.Failed;
        }
        if (!implicitConfirm && await ExchangeAsync(options.RaUrl, "certConf", session, session.BuildCertConf(ip.CertificateDer!), PkiBodyType.PkiConf, counted) is null)
        {
            return Outcome.Failed;
        }
        metrics.Transaction(label, started, counted);
        return Outcome.Completed;
    }

    /// <summary>ir + certConf on the client alias, signed by the device's current certificate, for its next key; the new certificate becomes current.</summary>
    private async Task<Outcome> EnrollSignedAsync(VirtualDevice device, bool counted, string? label)
    {
        long started = Stopwatch.GetTimestamp();
        CmpClientSession session = SignedSession(device);
        CmpResponseView? ip = await ExchangeAsync(options.ClientUrl, "ir", session,
            session.BuildEnrollment(true, device.Subject, device.NextKey), PkiBodyType.Ip, counted);
        if (ip is null)
        {
            return Outcome.Failed;
        }
        if (await ExchangeAsync(options.ClientUrl, "certConf", session, session.BuildCertConf(ip.CertificateDer!), PkiBodyType.PkiConf, counted) is null)
        {
            return Outcome.Failed;
        }
        device.Adopt(ip.CertificateDer!, rolledKey: true);
        metrics.Transaction(label, started, counted);
        return Outcome.Completed;
    }

    /// <summary>kur + certConf on the client alias, signed by the certificate it updates (RFC 9483 §4.1.3); rolls to the new key and certificate.</summary>
    private async Task<Outcome> RenewAsync(VirtualDevice device, bool counted, string? label)
    {
        long started = Stopwatch.GetTimestamp();
        CmpClientSession session = SignedSession(device);
        CmpResponseView? kup = await ExchangeAsync(options.ClientUrl, "kur", session,
            session.BuildKeyUpdate(device.NextKey, device.Certificate), PkiBodyType.Kup, counted);
        if (kup is null)
        {
            return Outcome.Failed;
        }
        if (await ExchangeAsync(options.ClientUrl, "certConf", session, session.BuildCertConf(kup.CertificateDer!), PkiBodyType.PkiConf, counted) is null)
        {
            return Outcome.Failed;
        }
        device.Adopt(kup.CertificateDer!, rolledKey: true);
        metrics.Transaction(label, started, counted);
        return Outcome.Completed;
    }

    /// <summary>rr on the RA alias (PBM) for a pre-issued certificate, reason keyCompromise; the answer must be rp/accepted.</summary>
    private async Task<Outcome> RevokeAsync(bool counted, string? label)
    {
        if (!_pool.TryDequeue(out byte[]? certificate))
        {
            return Outcome.PoolEmpty;
        }
        long started = Stopwatch.GetTimestamp();
        var session = new CmpClientSession(options.Secret, options.Reference, options.PbmIterations);
        CmpResponseView? rp = await ExchangeAsync(options.RaUrl, "rr", session, session.BuildRevocation(certificate, reason: 1), PkiBodyType.Rp, counted);
        if (rp is null)
        {
            return Outcome.Failed;
        }
        metrics.Transaction(label, started, counted);
        return Outcome.Completed;
    }

    private CmpClientSession SignedSession(VirtualDevice device) =>
        new CmpClientSession("unused", device.Subject.ToString(), options.PbmIterations).SignWith(device.Key, device.Certificate!);

    private async Task<CmpResponseView?> ExchangeAsync(
        string url, string name, CmpClientSession session, byte[] request, PkiBodyType expected, bool counted, bool record = true)
    {
        long started = Stopwatch.GetTimestamp();
        using var content = new ByteArrayContent(request);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/pkixcmp");
        try
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, url) { Content = content };
            if (options.CloseConnections)
            {
                // HTTP/1.0 as openssl cmp sends it: the mock server answers one request per connection and then closes.
                message.Version = System.Net.HttpVersion.Version10;
                message.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
                message.Headers.ConnectionClose = true;
            }
            using HttpResponseMessage response = await http.SendAsync(message);
            if (response.StatusCode == System.Net.HttpStatusCode.TooManyRequests)
            {
                metrics.RateLimit(counted);
                return null;
            }
            if (!response.IsSuccessStatusCode)
            {
                metrics.Error($"{name}: HTTP {(int)response.StatusCode}", counted);
                return null;
            }
            CmpResponseView view = session.Read(await response.Content.ReadAsByteArrayAsync());
            // rp carries its verdict in a status, ip / cp / kup in a status that may say rejection.
            if (view.BodyType != expected || view.Status is { } status && status.Status.IntValueExact > 1)
            {
                string failInfo = view.FailInfo.Count == 0 ? "" : " " + string.Join("|", view.FailInfo);
                metrics.Error($"{name}: {view.BodyType}{failInfo}", counted);
                return null;
            }
            if (record)
            {
                metrics.Message(name, started, counted);
            }
            return view;
        }
        catch (HttpRequestException e)
        {
            metrics.Error(e.HttpRequestError == HttpRequestError.Unknown ? $"{name}: {e.InnerException?.Message ?? e.Message}" : $"{name}: {e.HttpRequestError}", counted);
            return null;
        }
        catch (TaskCanceledException)
        {
            metrics.Error($"{name}: timeout", counted);
            return null;
        }
    }
}
