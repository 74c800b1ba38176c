using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;

namespace CmpCluster.Tests.Grains;

/// <summary>ir and cr authenticated with PasswordBasedMac on an alias that answers with the same MAC (RFC 9483 §4.1.1, §3.2).</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class PasswordBasedIrTests(CmpClusterFixture cluster)
{
    [Fact]
    public async Task Ir_with_pbm_gets_an_ip_with_the_requested_certificate_from_the_issuing_ca()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X509Name($"CN=device-{Guid.NewGuid():N},O=Operator");

        Exchange ip = await cluster.SendAsync(Aliases.Pbe, session, session.BuildEnrollment(initial: true, subject, key));

        byte[] der = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        ProtocolAssert.AnswersLastRequest(ip.View, session);
        Assert.True(session.VerifyMac(ip.Response), "ip is protected with the MAC of the request's secret");
        var certificate = ProtocolAssert.IssuedBy(der, cluster.Ca);
        ProtocolAssert.Certifies(certificate, subject, key.ExportSubjectPublicKeyInfo());
        // caPubs carries the root so the device can anchor the chain (IncludeRootInCaPubs defaults to true).
        Assert.Equal(cluster.Ca.Root.GetEncoded("DER"), Assert.Single(ip.View.CaPubs));
    }

    [Fact]
    public async Task Issued_certificate_is_recorded_awaiting_confirmation_until_certconf()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Exchange ip = await cluster.SendAsync(Aliases.Pbe, session,
            session.BuildEnrollment(initial: true, new X509Name("CN=awaiting"), key));

        CertificateRecord record = await cluster.IssuedCertificateAsync(Aliases.Pbe, session);
        Assert.Equal(CertificateStatus.AwaitingConfirmation, record.Status);
        Assert.Equal(ip.View.CertificateDer, record.Der);
        Assert.Equal(GrainKeys.Transaction(Aliases.Pbe, session.TransactionId), record.Intent.TransactionKey);

        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, session);
        Assert.Equal(TransactionPhase.AwaitingConfirmation, snapshot.Phase);
        Assert.NotNull(snapshot.ConfirmDeadline);
    }

    [Fact]
    public async Task Issued_serial_is_positive_and_at_least_64_bits()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Exchange ip = await cluster.SendAsync(Aliases.Pbe, session,
            session.BuildEnrollment(initial: true, new X509Name("CN=serial"), key));

        var certificate = new Org.BouncyCastle.X509.X509Certificate(ProtocolAssert.Granted(ip.View, PkiBodyType.Ip));
        // RFC 5280 §4.1.2.2: positive, at most 20 octets; at least 64 random bits.
        Assert.True(certificate.SerialNumber.SignValue > 0);
        Assert.InRange(certificate.SerialNumber.BitLength, 64, 159);
        CertificateRecord record = await cluster.IssuedCertificateAsync(Aliases.Pbe, session);
        Assert.Equal(certificate.SerialNumber.ToString(16).ToUpperInvariant(), record.Intent.SerialHex);
    }

    [Fact]
    public async Task Cr_with_pbm_gets_a_cp()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var subject = new X509Name("CN=cr-device,O=Operator");

        Exchange cp = await cluster.SendAsync(Aliases.Pbe, session, session.BuildEnrollment(initial: false, subject, key));

        byte[] der = ProtocolAssert.Granted(cp.View, PkiBodyType.Cp);
        ProtocolAssert.AnswersLastRequest(cp.View, session);
        Assert.True(session.VerifyMac(cp.Response));
        ProtocolAssert.Certifies(ProtocolAssert.IssuedBy(der, cluster.Ca), subject, key.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public async Task Pvno_3_is_accepted_like_pvno_2()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Exchange ip = await cluster.SendAsync(Aliases.Pbe, session, session.BuildEnrollment(
            initial: true, new X509Name("CN=cmp2021"), key, overrides: new RequestOverrides { Pvno = 3 }));

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Assert.Equal(3, ip.View.Message.Header.Pvno.IntValueExact);
    }
}

/// <summary>Responses on an alias configured for signature protection (RFC 9483 §3.2, §3.3).</summary>
[Collection(CmpClusterCollection.Name)]
public sealed class SignatureProtectedResponseTests(CmpClusterFixture cluster)
{
    [Fact]
    public async Task Ip_is_signed_by_the_cmp_signer_which_is_first_in_extraCerts()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        Exchange ip = await cluster.SendAsync(Aliases.Signed, session,
            session.BuildEnrollment(initial: true, new X509Name("CN=signed-response"), key));

        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        ProtocolAssert.AnswersLastRequest(ip.View, session);
        byte[] signer = cluster.Ca.CmpSigner.CertificateDer;
        Assert.True(ip.View.VerifySignature(signer), "ip signature verifies with the CMP signer certificate");
        Assert.False(session.VerifyMac(ip.Response));
        Assert.Equal(signer, ip.View.ExtraCerts[0]);
        // sender is the signer's subject and senderKID its key identifier, which OpenSSL matches (RFC 9483 §3.1).
        Assert.True(X509Name.GetInstance(ip.View.Message.Header.Sender.Name).Equivalent(cluster.Ca.CmpSigner.Certificate.Subject));
        Assert.Equal(cluster.Ca.CmpSigner.SubjectKeyIdentifier, ip.View.Message.Header.SenderKID?.GetOctets());
    }

    [Fact]
    public async Task PkiConf_is_signed_too()
    {
        CmpClientSession session = CmpClusterFixture.NewSession();
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Exchange ip = await cluster.SendAsync(Aliases.Signed, session,
            session.BuildEnrollment(initial: true, new X509Name("CN=signed-pkiconf"), key));

        Exchange conf = await cluster.SendAsync(Aliases.Signed, session, session.BuildCertConf(ip.View.CertificateDer!));

        Assert.Equal(PkiBodyType.PkiConf, conf.View.BodyType);
        ProtocolAssert.AnswersLastRequest(conf.View, session);
        Assert.True(conf.View.VerifySignature(cluster.Ca.CmpSigner.CertificateDer));
    }
}
