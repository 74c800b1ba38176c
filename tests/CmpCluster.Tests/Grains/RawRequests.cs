using System.Security.Cryptography;
using System.Text;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Security;
using BigInteger = Org.BouncyCastle.Math.BigInteger;

namespace CmpCluster.Tests.Grains;

/// <summary>A request built by hand and the senderNonce it carries.</summary>
public sealed record RawRequest(byte[] Der, byte[] SenderNonce);

/// <summary>
/// Requests that <see cref="CmpCluster.Protocol.Client.CmpClientSession"/> cannot build (other body types, odd header
/// values), MAC-protected the way the session does it: PasswordBasedMac over the DER ProtectedPart.
/// </summary>
public static class RawRequests
{
    public static RawRequest Protect(
        byte[] transactionId, PkiBody body, string secret = Aliases.Secret, byte[]? recipNonce = null,
        Func<PkiHeader, PkiHeader>? editHeader = null)
    {
        byte[] senderNonce = RandomNumberGenerator.GetBytes(16);
        AlgorithmIdentifier algorithm = PasswordBasedMac.NewAlgorithm(iterations: 500);
        PkiHeaderBuilder builder = new PkiHeaderBuilder(2,
                new GeneralName(new X509Name("CN=cmp-client")), new GeneralName(X509Name.GetInstance(new DerSequence())))
            .SetProtectionAlg(algorithm)
            .SetSenderKID(Encoding.UTF8.GetBytes("ra-test"))
            .SetTransactionID(transactionId)
            .SetSenderNonce(senderNonce)
            .SetMessageTime(new Asn1GeneralizedTime(DateTime.UtcNow));
        if (recipNonce is not null)
        {
            builder.SetRecipNonce(recipNonce);
        }
        PkiHeader header = builder.Build();
        header = editHeader?.Invoke(header) ?? header;
        var limits = new CmpLimits { MaxPbmIterations = int.MaxValue };
        byte[] mac = PasswordBasedMac.Derive(algorithm, Encoding.UTF8.GetBytes(secret), limits)
            .Compute(new ProtectedPart(header, body).GetEncoded(Asn1Encodable.Der));
        return new RawRequest(new PkiMessage(header, body, new DerBitString(mac)).GetEncoded(Asn1Encodable.Der), senderNonce);
    }

    /// <summary>The same header with another pvno, which <see cref="PkiHeaderBuilder"/> only takes as an int.</summary>
    public static PkiHeader WithPvno(PkiHeader header, BigInteger pvno)
    {
        Asn1Encodable[] fields = Asn1Sequence.GetInstance(header.ToAsn1Object()).ToArray();
        fields[0] = new DerInteger(pvno);
        return PkiHeader.GetInstance(new DerSequence(fields));
    }

    /// <summary>genm asking for the CA certificates (RFC 9483 §4.3.1).</summary>
    public static PkiBody Genm() =>
        new(PkiBody.TYPE_GEN_MSG, new GenMsgContent(new InfoTypeAndValue(CmpObjectIdentifiers.id_it_caCerts)));

    /// <summary>p10cr carrying a PKCS#10 request made by .NET.</summary>
    public static PkiBody P10cr(ECDsa key, string subject)
    {
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        return new PkiBody(PkiBody.TYPE_P10_CERT_REQ,
            Org.BouncyCastle.Asn1.Pkcs.CertificationRequest.GetInstance(Asn1Object.FromByteArray(request.CreateSigningRequest())));
    }

    /// <summary>certConf carrying the given CertStatus entries.</summary>
    public static PkiBody CertConf(params CertStatus[] statuses) =>
        new(PkiBody.TYPE_CERT_CONFIRM, CertConfirmContent.GetInstance(new DerSequence(statuses.Cast<Asn1Encodable>().ToArray())));

    /// <summary>An accepting CertStatus: SHA-256 certHash without hashAlg, or the named hash with hashAlg (RFC 9480 §2.10).</summary>
    public static CertStatus Accept(byte[] certificate, long certReqId = 0, DerObjectIdentifier? hashAlg = null, byte[]? certHash = null)
    {
        byte[] hash = certHash ?? (hashAlg is null ? SHA256.HashData(certificate) : HashWith(hashAlg, certificate));
        return new CertStatus(hash, BigInteger.ValueOf(certReqId), null, hashAlg is null ? null : new AlgorithmIdentifier(hashAlg));
    }

    private static byte[] HashWith(DerObjectIdentifier oid, byte[] data) =>
        DigestUtilities.CalculateDigest(oid, data);

    /// <summary>pkiConf, a message only a server sends.</summary>
    public static PkiBody PkiConf() => new(PkiBody.TYPE_CONFIRM, DerNull.Instance);

    /// <summary>An ir with signature POP and the given certReqId (RFC 9483 §4.1.1 wants 0).</summary>
    public static PkiBody Ir(ECDsa key, X509Name subject, BigInteger certReqId)
    {
        CertTemplate template = new CertTemplateBuilder()
            .SetSubject(subject)
            .SetSubjectPublicKeyInfo(SubjectPublicKeyInfo.GetInstance(key.ExportSubjectPublicKeyInfo()))
            .Build();
        var request = new CertRequest(new DerInteger(certReqId), template, null);
        var signer = new KeySigner(key);
        byte[] signature = signer.Sign(request.GetEncoded(Asn1Encodable.Der));
        var pop = new ProofOfPossession(new PopoSigningKey(null, signer.Algorithm, new DerBitString(signature)));
        return new PkiBody(PkiBody.TYPE_INIT_REQ, new CertReqMessages(new CertReqMsg(request, pop, null)));
    }
}
