using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;
using CmpCluster.Tests.Grains;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Xunit;
using static CmpCluster.Tests.Revocation.RevocationTestSupport;

namespace CmpCluster.Tests.TrustBoundary;

/// <summary>
/// No signing oracle: the CA key signs in the certificate grain that recorded the issuance intent, and only the
/// TBSCertificate that matches that intent, once. Even a caller inside the silo gets nothing else signed.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class SigningTests(CmpClusterFixture cluster)
{
    public static TheoryData<string> Mismatches() => ["serial", "issuer", "subject", "public key", "signature algorithm", "not DER"];

    [Theory]
    [MemberData(nameof(Mismatches))]
    public async Task A_TBSCertificate_that_differs_from_the_recorded_intent_is_not_signed(string mismatch)
    {
        string serial = NewSerialHex();
        TestIssuance recorded = TestIssuance.For(cluster.Ca, serial, "CN=intent");
        TestIssuance presented = mismatch switch
        {
            "serial" => TestIssuance.For(cluster.Ca, NewSerialHex(), "CN=intent", publicKeyDer: recorded.PublicKeyDer),
            "issuer" => TestIssuance.For(cluster.Ca, serial, "CN=intent", issuer: new X509Name("CN=Another CA"), publicKeyDer: recorded.PublicKeyDer),
            "subject" => TestIssuance.For(cluster.Ca, serial, "CN=someone else", publicKeyDer: recorded.PublicKeyDer),
            "public key" => TestIssuance.For(cluster.Ca, serial, "CN=intent"),
            "signature algorithm" => TestIssuance.For(cluster.Ca, serial, "CN=intent", signature: new AlgorithmIdentifier(X9ObjectIdentifiers.ECDsaWithSha512),
                publicKeyDer: recorded.PublicKeyDer),
            _ => recorded with { TbsDer = [0x04, 0x01, 0x00] },
        };
        ICertificateGrain grain = cluster.Internal.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serial));
        Assert.True(await grain.ReserveAsync(recorded.Intent(Ca, cluster.Clock.GetUtcNow())));

        await Assert.ThrowsAnyAsync<Exception>(() => grain.IssueAsync(presented.TbsDer, confirmed: true));

        CertificateRecord record = (await grain.GetAsync())!;
        Assert.Equal(CertificateStatus.Reserved, record.Status);
        Assert.Null(record.Der);
    }

    [Fact]
    public async Task The_matching_TBSCertificate_is_signed_once_by_the_CA()
    {
        string serial = NewSerialHex();
        TestIssuance issuance = TestIssuance.For(cluster.Ca, serial, "CN=intent,O=Example");
        ICertificateGrain grain = cluster.Internal.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serial));
        Assert.True(await grain.ReserveAsync(issuance.Intent(Ca, cluster.Clock.GetUtcNow())));

        byte[] der = await grain.IssueAsync(issuance.TbsDer, confirmed: true);

        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(der);
        Assert.Equal(serial, certificate.SerialNumber.TrimStart('0'));
        Assert.True(VerifiesUnder(der, cluster.Ca.Ca.CertificateDer));
        Assert.Equal(CertificateStatus.Confirmed, (await grain.GetAsync())!.Status);

        // Never a second signature for one serial, even for the same TBSCertificate.
        await Assert.ThrowsAnyAsync<Exception>(() => grain.IssueAsync(issuance.TbsDer, confirmed: true));
        Assert.Equal(der, (await grain.GetAsync())!.Der);
    }

    [Fact]
    public async Task Nothing_is_signed_for_a_serial_without_a_recorded_intent()
    {
        string serial = NewSerialHex();
        TestIssuance issuance = TestIssuance.For(cluster.Ca, serial, "CN=no-intent");
        ICertificateGrain grain = cluster.Internal.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serial));
        await Assert.ThrowsAnyAsync<Exception>(() => grain.IssueAsync(issuance.TbsDer, confirmed: true));
        Assert.Null(await grain.GetAsync());
    }

    /// <summary>The certificate's signature verifies with the issuer's public key (through BouncyCastle's verifier).</summary>
    private static bool VerifiesUnder(byte[] certificateDer, byte[] issuerDer)
    {
        var certificate = new Org.BouncyCastle.X509.X509Certificate(certificateDer);
        var issuer = new Org.BouncyCastle.X509.X509Certificate(issuerDer);
        try
        {
            certificate.Verify(issuer.GetPublicKey());
            return true;
        }
        catch (Org.BouncyCastle.Security.GeneralSecurityException)
        {
            return false;
        }
    }
}
