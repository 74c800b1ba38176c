using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// p10cr, RFC 9483 §4.1.4: a PKCS#10 request whose signature is the POP, answered with cp under certReqId -1 and
/// confirmed with certConf naming -1.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class P10crTests(CmpClusterFixture cluster) : IDisposable
{
    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly CmpClientSession _session = CmpClusterFixture.NewSession();

    public void Dispose() => _key.Dispose();

    private static byte[] Csr(string subject, ECDsa key, params string[] dnsNames)
    {
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        if (dnsNames.Length > 0)
        {
            var names = new SubjectAlternativeNameBuilder();
            foreach (string name in dnsNames)
            {
                names.AddDnsName(name);
            }
            request.CertificateExtensions.Add(names.Build());
        }
        return request.CreateSigningRequest();
    }

    private static long CertReqIdOf(CmpResponseView view) =>
        ((Org.BouncyCastle.Asn1.Cmp.CertRepMessage)view.Message.Body.Content).GetResponse()[0].CertReqID.LongValueExact;

    [Fact]
    public async Task P10cr_is_answered_with_cp_under_certReqId_minus_1_and_confirmed_with_minus_1()
    {
        string cn = $"p10cr-{Guid.NewGuid():N}";
        Exchange cp = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildP10(Csr($"CN={cn}, O=Example", _key, $"{cn}.example.net")));

        byte[] der = ProtocolAssert.Granted(cp.View, PkiBodyType.Cp);
        Assert.Equal(-1, CertReqIdOf(cp.View));
        var certificate = ProtocolAssert.IssuedBy(der, cluster.Ca);
        ProtocolAssert.Certifies(certificate, new X509Name($"CN={cn},O=Example"), _key.ExportSubjectPublicKeyInfo());
        // The extensionRequest attribute is a request like a template's extensions: the SAN is copied where the profile allows.
        var san = GeneralNames.GetInstance(certificate.CertificateStructure.TbsCertificate.Extensions.GetExtension(X509Extensions.SubjectAlternativeName).GetParsedValue());
        Assert.Equal($"{cn}.example.net", Assert.Single(san.GetNames()).Name.ToString());
        Assert.Equal(CertificateStatus.AwaitingConfirmation, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);

        Exchange conf = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(der, certReqId: -1));

        Assert.Equal(PkiBodyType.PkiConf, conf.View.BodyType);
        Assert.Equal(CertificateStatus.Confirmed, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
        Assert.Equal(TransactionOutcome.Confirmed, (await cluster.SnapshotAsync(Aliases.Pbe, _session)).Outcome);
    }

    [Fact]
    public async Task A_certConf_naming_certReqId_0_for_a_p10cr_is_badCertId_and_revokes_the_certificate()
    {
        Exchange cp = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildP10(Csr("CN=p10cr-wrong-id", _key)));
        byte[] der = ProtocolAssert.Granted(cp.View, PkiBodyType.Cp);

        Exchange conf = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(der, certReqId: 0));

        ProtocolAssert.Rejected(conf.View, PkiFailureInfo.BadCertId);
        Assert.Equal(CertificateStatus.Revoked, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
    }

    [Fact]
    public async Task A_p10cr_whose_signature_does_not_verify_is_badPOP_and_issues_nothing()
    {
        byte[] csr = Csr("CN=p10cr-bad-signature", _key);
        csr[^3] ^= 0x01; // inside the signature value, the last element of the CertificationRequest

        Exchange error = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildP10(csr));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadPop);
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, _session);
        Assert.Empty(snapshot.CertificateKeys);
        Assert.Equal(TransactionOutcome.Refused, snapshot.Outcome);
    }

    [Fact]
    public async Task A_p10cr_signed_by_another_key_than_the_one_it_carries_is_badPOP()
    {
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        // The request info names _key, the signature is made with other: built by hand, as .NET signs with the key it names.
        var info = Org.BouncyCastle.Asn1.Pkcs.CertificationRequest.GetInstance(Asn1Object.FromByteArray(Csr("CN=p10cr-other-key", _key)));
        byte[] signed = info.GetCertificationRequestInfo().GetEncoded(Asn1Encodable.Der);
        byte[] signature = other.SignData(signed, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        byte[] forged = new Org.BouncyCastle.Asn1.Pkcs.CertificationRequest(info.GetCertificationRequestInfo(), info.SignatureAlgorithm, new DerBitString(signature))
            .GetEncoded(Asn1Encodable.Der);

        Exchange error = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildP10(forged));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadPop);
        Assert.Empty((await cluster.SnapshotAsync(Aliases.Pbe, _session)).CertificateKeys);
    }

    [Fact]
    public async Task A_p10cr_with_a_weak_rsa_key_is_badCertTemplate()
    {
        using var rsa = RSA.Create(1024);
        byte[] csr = new CertificateRequest("CN=p10cr-rsa-1024", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequest();

        Exchange error = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildP10(csr));

        ProtocolAssert.Rejected(error.View, PkiFailureInfo.BadCertTemplate);
    }

    [Fact]
    public async Task A_p10cr_with_implicitConfirm_is_confirmed_at_once()
    {
        Exchange cp = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildP10(Csr("CN=p10cr-implicit", _key), implicitConfirm: true));

        ProtocolAssert.Granted(cp.View, PkiBodyType.Cp);
        Assert.True(cp.View.ImplicitConfirmGranted);
        Assert.Equal(CertificateStatus.Confirmed, (await cluster.IssuedCertificateAsync(Aliases.Pbe, _session)).Status);
    }
}
