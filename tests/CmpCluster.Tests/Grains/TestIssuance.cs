using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.Pki;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Math;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// A TBSCertificate and the intent that matches it, made directly (not through CMP), for tests that drive certificate
/// grains themselves: the grain signs only a TBSCertificate that matches its recorded intent.
/// </summary>
public sealed record TestIssuance(string SerialHex, string SubjectDn, byte[] PublicKeyDer, byte[] TbsDer)
{
    public CertificateIntent Intent(string ca, DateTimeOffset now) =>
        new(ca, SerialHex, SubjectDn, "test", "test/" + SerialHex, now, PublicKeyHash: SHA256.HashData(PublicKeyDer));

    /// <summary>A TBSCertificate for a fresh P-256 key, issued by <paramref name="ca"/> (overridable parts for refusal tests).</summary>
    public static TestIssuance For(CertificateAuthorityKeys ca, string serialHex, string subject,
        X509Name? issuer = null, AlgorithmIdentifier? signature = null, byte[]? publicKeyDer = null)
    {
        byte[] intentKey;
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            intentKey = key.ExportSubjectPublicKeyInfo();
        }
        var generator = new V3TbsCertificateGenerator();
        generator.SetSerialNumber(new DerInteger(new BigInteger(serialHex, 16)));
        generator.SetSignature(signature ?? ca.Ca.Signer.Algorithm);
        generator.SetIssuer(issuer ?? ca.Ca.Certificate.Subject);
        generator.SetStartDate(new Time(DateTime.UtcNow.AddMinutes(-1)));
        generator.SetEndDate(new Time(DateTime.UtcNow.AddDays(1)));
        generator.SetSubject(new X509Name(subject));
        generator.SetSubjectPublicKeyInfo(SubjectPublicKeyInfo.GetInstance(publicKeyDer ?? intentKey));
        return new TestIssuance(serialHex, new X509Name(subject).ToString(), intentKey, generator.GenerateTbsCertificate().GetEncoded(Asn1Encodable.Der));
    }
}
