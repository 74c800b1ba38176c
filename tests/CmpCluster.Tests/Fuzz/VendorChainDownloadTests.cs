using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Grains.Authentication;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using CmpCluster.Tests.Protocol;
using Org.BouncyCastle.Asn1.Cmp;
using Xunit;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Fuzz;

/// <summary>
/// Found while writing the request harness (fuzz/Harness/FuzzTargets.cs runs vendor chains): a signed request's chain is
/// built from its extraCerts (RFC 9483 §3.3) and the configured anchors only; an AIA caIssuers URL in the sender's own
/// certificate is never fetched.
/// </summary>
public sealed class VendorChainDownloadTests
{
    [Fact]
    public void A_vendor_chain_never_fetches_the_issuer_an_unverified_certificate_points_to()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        DateTimeOffset now = DateTimeOffset.UtcNow;

        using ECDsa caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Unknown CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using X509Certificate2 ca = caRequest.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
        using ECDsa deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var deviceRequest = new CertificateRequest("CN=device", deviceKey, HashAlgorithmName.SHA256);
        deviceRequest.CertificateExtensions.Add(new X509AuthorityInformationAccessExtension(null, [$"http://127.0.0.1:{port}/ca.cer"]));
        using X509Certificate2 device = deviceRequest.Create(ca, now.AddHours(-1), now.AddHours(1), [1, 2, 3, 4]);

        using ECDsa anchorKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using X509Certificate2 anchor = new CertificateRequest("CN=Vendor Root", anchorKey, HashAlgorithmName.SHA256)
            .CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
        string anchorFile = Path.Combine(Path.GetTempPath(), $"vendor-anchor-{Guid.NewGuid():N}.pem");
        File.WriteAllText(anchorFile, anchor.ExportCertificatePem());
        try
        {
            byte[] der = TestRequests.Session().SignWith(deviceKey, device.RawData)
                .BuildGeneralMessage(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_caCerts));
            DecodedRequest request = DecodedRequest.Decode(der, new CmpLimits());

            var e = Assert.Throws<CmpFailureException>(() => new VendorCertificates(TimeProvider.System).Verify(request, [anchorFile], []));

            Assert.Equal(PkiFailureInfo.BadMessageCheck, e.Failure.FailInfo);
            Assert.False(listener.Pending(), "the chain builder connected to the AIA URL of the request's certificate");
        }
        finally
        {
            File.Delete(anchorFile);
        }
    }
}
