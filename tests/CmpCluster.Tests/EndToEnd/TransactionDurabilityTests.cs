using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.EndToEnd;

/// <summary>
/// A transaction the node answered is durable: after a SIGKILL between ip and certConf, the restarted node answers a
/// retransmitted ir with the stored certificate and accepts the certConf. Driven with the protocol's CMP client over
/// HTTP, since openssl cannot pause between ip and certConf.
/// </summary>
public sealed class TransactionDurabilityTests
{
    [Fact]
    public async Task Transaction_answered_before_sigkill_continues_after_restart()
    {
        await using NodeProcess node = await NodeProcess.StartAsync();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var session = new CmpClientSession("changeit", "ra");
        byte[] ir = session.BuildEnrollment(initial: true, new X509Name("CN=e2e-midway"), key);

        CmpResponseView ip = session.Read(await PostAsync(node, ir));
        Assert.True(ip.BodyType == PkiBodyType.Ip && ip.CertificateDer is not null,
            $"expected an ip with a certificate, got {ip.BodyType} failInfo [{string.Join(",", ip.FailInfo)}]\n{node.Diagnostics()}");
        using X509Certificate2 certificate = X509Certificate2.CreateFromPem(PemEncoding.WriteString("CERTIFICATE", ip.CertificateDer));
        string serial = E2e.SerialHex(certificate);

        await node.KillAndRestartAsync();

        // a retry never re-signs; the stored response comes back, also from a restarted node.
        CmpResponseView again = CmpResponseView.Parse(await PostAsync(node, ir));
        Assert.True(again.BodyType == PkiBodyType.Ip,
            $"retransmitted ir: got {again.BodyType} failInfo [{string.Join(",", again.FailInfo)}]\n{node.Diagnostics()}");
        Assert.Equal(ip.CertificateDer, again.CertificateDer);

        byte[] pkiConfDer = await PostAsync(node, session.BuildCertConf(ip.CertificateDer));
        CmpResponseView pkiConf = session.Read(pkiConfDer);
        Assert.True(pkiConf.BodyType == PkiBodyType.PkiConf,
            $"certConf: got {pkiConf.BodyType} failInfo [{string.Join(",", pkiConf.FailInfo)}]\n{node.Diagnostics()}");
        Assert.True(session.VerifyMac(pkiConfDer), "pkiConf is not MAC-protected");

        await using OrleansTestClient client = await node.ConnectClientAsync();
        CertificateRecord? record = await client.CertificateAsync("issuing", serial);
        Assert.NotNull(record);
        Assert.Equal(CertificateStatus.Confirmed, record.Status);
        Assert.Equal(certificate.RawData, record.Der);
    }

    private static async Task<byte[]> PostAsync(NodeProcess node, byte[] der)
    {
        using HttpClient http = node.CreateHttpClient();
        var content = new ByteArrayContent(der);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/pkixcmp");
        using HttpResponseMessage response = await http.PostAsync("/.well-known/cmp/p/ra", content);
        byte[] body = await response.Content.ReadAsByteArrayAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"HTTP {(int)response.StatusCode}\n{node.Diagnostics()}");
        return body;
    }
}
