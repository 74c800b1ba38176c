using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;
using CmpCluster.Tests.Grains;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Xunit;
using static CmpCluster.Tests.Revocation.RevocationTestSupport;

namespace CmpCluster.Tests.TrustBoundary;

/// <summary>
/// No signing oracle: the CA key signs in the certificate grain, only a TBSCertificate that matches the issuance intent it
/// records with the certificate, and once per serial. Even a caller inside the silo gets nothing else signed.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class SigningTests(CmpClusterFixture cluster)
{
    public static TheoryData<string> Mismatches() => ["serial", "issuer", "subject", "public key", "signature algorithm", "not DER"];

    [Theory]
    [MemberData(nameof(Mismatches))]
    public async Task A_TBSCertificate_that_differs_from_the_intent_is_not_signed(string mismatch)
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
        int audited = cluster.AuditStore.Records.Count(r => r.Target == GrainKeys.Certificate(Ca, serial));

        await Assert.ThrowsAnyAsync<Exception>(() => grain.IssueAsync(recorded.Intent(Ca, cluster.Clock.GetUtcNow()), presented.TbsDer, confirmed: true));

        // Nothing signed, nothing stored, nothing audited: the serial is still free.
        Assert.Null(await grain.GetAsync());
        Assert.Equal(audited, cluster.AuditStore.Records.Count(r => r.Target == GrainKeys.Certificate(Ca, serial)));
    }

    [Fact]
    public async Task The_matching_TBSCertificate_is_signed_once_by_the_CA()
    {
        string serial = NewSerialHex();
        TestIssuance issuance = TestIssuance.For(cluster.Ca, serial, "CN=intent,O=Example");
        ICertificateGrain grain = cluster.Internal.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serial));
        CertificateIntent intent = issuance.Intent(Ca, cluster.Clock.GetUtcNow());

        byte[] der = (await grain.IssueAsync(intent, issuance.TbsDer, confirmed: true))!;

        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(der);
        Assert.Equal(serial, certificate.SerialNumber.TrimStart('0'));
        Assert.True(VerifiesUnder(der, cluster.Ca.Ca.CertificateDer));
        Assert.Equal(CertificateStatus.Confirmed, (await grain.GetAsync())!.Status);

        // Never a second signature for one serial: the same issuance asked again (a resumed retry) gets the stored
        // certificate, byte for byte; another issuance under this serial gets nothing.
        Assert.Equal(der, await grain.IssueAsync(intent with { RequestedAt = intent.RequestedAt.AddSeconds(5) }, issuance.TbsDer, confirmed: true));
        TestIssuance other = TestIssuance.For(cluster.Ca, serial, "CN=someone else");
        Assert.Null(await grain.IssueAsync(other.Intent(Ca, cluster.Clock.GetUtcNow()), other.TbsDer, confirmed: true));
        Assert.Null(await grain.IssueAsync(intent with { TransactionKey = "pbe/00" }, issuance.TbsDer, confirmed: true));
        Assert.Equal(der, (await grain.GetAsync())!.Der);
        Assert.Single(cluster.AuditStore.Records, r => r.Target == GrainKeys.Certificate(Ca, serial) && r.Type == CmpCluster.Grains.Audit.AuditEventType.CertificateSigned);
    }

    [Fact]
    public async Task A_revoked_serial_is_never_signed_again()
    {
        string serial = NewSerialHex();
        TestIssuance issuance = TestIssuance.For(cluster.Ca, serial, "CN=revoked-once");
        ICertificateGrain grain = cluster.Internal.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serial));
        CertificateIntent intent = issuance.Intent(Ca, cluster.Clock.GetUtcNow());
        Assert.NotNull(await grain.IssueAsync(intent, issuance.TbsDer, confirmed: false));
        Assert.Equal(RevocationResult.Revoked, await grain.RevokeAsync(new RevocationRequest(RevocationReason.CessationOfOperation, "test")));

        Assert.Null(await grain.IssueAsync(intent, issuance.TbsDer, confirmed: false));
        Assert.Equal(CertificateStatus.Revoked, (await grain.GetAsync())!.Status);
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
