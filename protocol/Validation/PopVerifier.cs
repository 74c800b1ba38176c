using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Protocol.Validation;

/// <summary>
/// What a POPOSigningKeyInput's authInfo is checked against (RFC 4211 §4.1): the request's authenticated sender, and the
/// shared secret a publicKeyMAC is keyed with (null where the alias has none to offer: then a publicKeyMAC is refused).
/// </summary>
public sealed record PopContext(GeneralName? RequestSender, byte[]? SharedSecret, Configuration.CmpLimits Limits);

/// <summary>Proof of possession, RFC 4211 §4: signature POP verified; raVerified only where the alias allows it.</summary>
public static class PopVerifier
{
    /// <summary>
    /// The key a signature POP's POPOSigningKeyInput carries (RFC 4211 §4.1), for a template that has none: the key then
    /// comes with the proof.
    /// </summary>
    public static SubjectPublicKeyInfo? KeyOfSigningInput(CertReqMsg message) =>
        message.Pop is { Type: ProofOfPossession.TYPE_SIGNING_KEY } pop ? PopoSigningKey.GetInstance(pop.Object).PoposkInput?.PublicKey : null;

    public static void Verify(CertReqMsg message, bool allowRaVerified, PopContext? context = null)
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
                VerifySignature(message.CertReq, PopoSigningKey.GetInstance(pop.Object), context);
                return;
            default:
                throw new CmpFailureException(PkiFailureInfo.BadPop,
                    "only signature POP is offered: keyEncipherment and keyAgreement POP (RFC 4211 §4.2, §4.3) are not; the key must be able to sign");
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
    private static void VerifySignature(CertRequest request, PopoSigningKey popo, PopContext? context)
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
            CheckAuthInfo(popo.PoposkInput, context);
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

    /// <summary>
    /// RFC 4211 §4.1 authInfo: <c>sender</c> must be the sender the request authenticated as (its PKIHeader sender);
    /// <c>publicKeyMAC</c> must be a MAC of the DER publicKey keyed with the shared secret (PasswordBasedMac or PBMAC1, under
    /// the alias's bounds). Otherwise badPOP.
    /// </summary>
    private static void CheckAuthInfo(PopoSigningKeyInput input, PopContext? context)
    {
        if (input.Sender is { } sender)
        {
            if (context?.RequestSender is not { } requestSender || !sender.Equals(requestSender))
            {
                throw new CmpFailureException(PkiFailureInfo.BadPop, "the POPOSigningKeyInput sender is not the sender of the request");
            }
            return;
        }
        if (input.PublicKeyMac is { } mac)
        {
            if (context?.SharedSecret is not { } secret)
            {
                throw new CmpFailureException(PkiFailureInfo.BadPop, "a publicKeyMAC cannot be verified on this alias: it has no shared secret");
            }
            if (!PasswordBasedMac.IsPasswordBasedMac(mac.AlgID))
            {
                throw new CmpFailureException(PkiFailureInfo.BadPop, "the publicKeyMAC algorithm is not PasswordBasedMac or PBMAC1");
            }
            byte[] publicKey = input.PublicKey.GetEncoded(Asn1Encodable.Der);
            if (mac.MacValue.PadBits != 0 || !PasswordBasedMac.Derive(mac.AlgID, secret, context.Limits).Verify(publicKey, mac.MacValue.GetOctets()))
            {
                throw new CmpFailureException(PkiFailureInfo.BadPop, "the publicKeyMAC does not verify");
            }
        }
    }
}
