using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Protocol.Validation;

/// <summary>Proof of possession, RFC 4211 §4: signature POP verified; raVerified only where the alias allows it.</summary>
public static class PopVerifier
{
    public static void Verify(CertReqMsg message, bool allowRaVerified)
    {
        ProofOfPossession? pop = message.Pop;
        if (pop is null)
        {
            throw new CmpFailureException(PkiFailureInfo.BadPop, "proof of possession is missing");
        }
        switch (pop.Type)
        {
            case ProofOfPossession.TYPE_RA_VERIFIED:
                if (!allowRaVerified)
                {
                    throw new CmpFailureException(PkiFailureInfo.BadPop, "raVerified POP is not allowed on this alias");
                }
                return;
            case ProofOfPossession.TYPE_SIGNING_KEY:
                VerifySignature(message.CertReq, PopoSigningKey.GetInstance(pop.Object));
                return;
            default:
                throw new CmpFailureException(PkiFailureInfo.BadPop, "only signature POP is supported");
        }
    }

    /// <summary>
    /// p10cr (RFC 9483 §4.1.4): the PKCS#10 request's own signature, over its CertificationRequestInfo with the key it
    /// carries (RFC 2986 §4.2), is the proof of possession.
    /// </summary>
    public static void VerifyPkcs10(Org.BouncyCastle.Asn1.Pkcs.CertificationRequest request)
    {
        if (!SignatureVerifier.IsSupported(request.SignatureAlgorithm))
        {
            throw new CmpFailureException(PkiFailureInfo.BadPop, "the PKCS#10 signature algorithm is not supported");
        }
        var info = request.GetCertificationRequestInfo();
        if (!SignatureVerifier.Verify(info.SubjectPublicKeyInfo, request.SignatureAlgorithm, info.GetEncoded(Asn1Encodable.Der), request.Signature.GetOctets()))
        {
            throw new CmpFailureException(PkiFailureInfo.BadPop, "the PKCS#10 signature does not verify");
        }
    }

    /// <summary>
    /// RFC 4211 §4.1: without poposkInput the signature is over the DER CertRequest and the template must hold
    /// subject and publicKey; with poposkInput it is over POPOSigningKeyInput, whose key must match the template.
    /// </summary>
    private static void VerifySignature(CertRequest request, PopoSigningKey popo)
    {
        SubjectPublicKeyInfo? templateKey = request.CertTemplate.PublicKey;
        SubjectPublicKeyInfo key;
        byte[] signed;
        if (popo.PoposkInput is null)
        {
            if (templateKey is null || request.CertTemplate.Subject is null)
            {
                throw new CmpFailureException(PkiFailureInfo.BadPop, "signature POP without poposkInput needs subject and publicKey in the template");
            }
            key = templateKey;
            signed = request.GetEncoded(Asn1Encodable.Der);
        }
        else
        {
            key = popo.PoposkInput.PublicKey;
            if (templateKey is not null && !templateKey.Equals(key))
            {
                throw new CmpFailureException(PkiFailureInfo.BadPop, "poposkInput publicKey differs from the template");
            }
            signed = popo.PoposkInput.GetEncoded(Asn1Encodable.Der);
        }
        if (!SignatureVerifier.IsSupported(popo.AlgorithmIdentifier))
        {
            throw new CmpFailureException(PkiFailureInfo.BadPop, "POP signature algorithm is not supported");
        }
        if (!SignatureVerifier.Verify(key, popo.AlgorithmIdentifier, signed, popo.Signature.GetOctets()))
        {
            throw new CmpFailureException(PkiFailureInfo.BadPop, "POP signature does not verify");
        }
    }
}
