using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using CmpCluster.Tests.EndToEnd;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Tests.Cluster;

/// <summary>What a client was told: the certificate it received in an ip, and whether its certConf got a pkiConf.</summary>
public sealed record Receipt(string CommonName, string SerialHex, byte[] Der, bool Confirmed);

/// <summary>
/// A CMP client over HTTP the way a careful device behaves: ir, then certConf, each message sent to the next target
/// in turn (no stickiness). A transport failure (connection refused or reset, timeout, any non-200) resends the same
/// bytes; a CMP error is final. Every received certificate becomes a <see cref="Receipt"/> for the invariant checker.
/// </summary>
public sealed class ClusterEnroller(IReadOnlyList<Uri> targets, TimeSpan retryFor, ConcurrentBag<Receipt> allReceipts)
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(15) };
    private int _next;

    public ConcurrentBag<Receipt> Receipts { get; } = [];
    public ConcurrentBag<string> CmpErrors { get; } = [];
    public ConcurrentBag<string> GaveUp { get; } = [];
    public ConcurrentBag<string> Violations { get; } = [];
    public int Retries;

    /// <summary>One complete enrollment; returns the receipt or null (CMP error or gave up, both recorded).</summary>
    public async Task<Receipt?> EnrollAsync(string commonName, Func<int, Uri>? pick = null)
    {
        pick ??= _ => targets[(Interlocked.Increment(ref _next) & int.MaxValue) % targets.Count];
        var session = new CmpClientSession("changeit", "ra");
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        byte[] ir = session.BuildEnrollment(initial: true, new X509Name($"CN={commonName},O=ClusterTest"), key);
        byte[]? ip = await SendAsync(ir, pick(0), commonName);
        if (ip is null)
        {
            return null;
        }
        CmpResponseView view = session.Read(ip);
        if (view.BodyType != PkiBodyType.Ip || view.CertificateDer is null)
        {
            CmpErrors.Add($"{commonName}: {view.BodyType} {string.Join(",", view.FailInfo)}");
            return null;
        }
        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(view.CertificateDer);
        var receipt = new Receipt(commonName, E2e.SerialHex(certificate), view.CertificateDer, Confirmed: false);
        Receipts.Add(receipt);
        allReceipts.Add(receipt);

        // A retransmission of the same ir must get the same stored response: never a second signature.
        byte[]? again = await SendAsync(ir, pick(1), commonName);
        if (again is not null && !again.AsSpan().SequenceEqual(ip))
        {
            Violations.Add($"{commonName}: the retransmitted ir got a different response");
        }

        byte[] certConf = session.BuildCertConf(view.CertificateDer);
        byte[]? pkiConf = await SendAsync(certConf, pick(2), commonName);
        if (pkiConf is null)
        {
            return receipt;
        }
        CmpResponseView confView = session.Read(pkiConf);
        if (confView.BodyType != PkiBodyType.PkiConf)
        {
            CmpErrors.Add($"{commonName} certConf: {confView.BodyType} {string.Join(",", confView.FailInfo)}");
            return receipt;
        }
        Receipt confirmed = receipt with { Confirmed = true };
        Receipts.Add(confirmed);
        allReceipts.Add(confirmed);
        return confirmed;
    }

    private async Task<byte[]?> SendAsync(byte[] der, Uri first, string commonName)
    {
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        Uri target = first;
        string last = "";
        for (int attempt = 0; stopwatch.Elapsed < retryFor; attempt++)
        {
            if (attempt > 0)
            {
                Interlocked.Increment(ref Retries);
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000, 100 * attempt)));
                target = targets[(Interlocked.Increment(ref _next) & int.MaxValue) % targets.Count];
            }
            try
            {
                using var content = new ByteArrayContent(der);
                content.Headers.ContentType = new MediaTypeHeaderValue(CmpClusterContentType);
                using HttpResponseMessage response = await Http.PostAsync(new Uri(target, ".well-known/cmp/p/ra"), content);
                if (response.IsSuccessStatusCode && response.Content.Headers.ContentType?.MediaType == CmpClusterContentType)
                {
                    return await response.Content.ReadAsByteArrayAsync();
                }
                last = $"HTTP {(int)response.StatusCode}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                last = e.GetType().Name + ": " + e.Message;
            }
        }
        GaveUp.Add($"{commonName}: {last}");
        return null;
    }

    private const string CmpClusterContentType = "application/pkixcmp";
}
