using CmpCluster.Protocol;
using CmpCluster.Protocol.Messages;
using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Authentication;

/// <summary>Signature protection, RFC 9483 §3.3: the signer's certificate is first in extraCerts and the signature verifies with it.</summary>
public static class SignedRequests
{
    /// <summary>The certificate whose key signed the request; badMessageCheck when the request is not signed that way.
    /// Whether the certificate is trusted is the caller's question (ours, an RA administrator's, a vendor's).</summary>
    public static X509CertificateStructure VerifiedSigner(DecodedRequest request)
    {
        if (request.ProtectionAlg is not { } algorithm || PasswordBasedMac.IsPasswordBasedMac(algorithm) || !SignatureVerifier.IsSupported(algorithm))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "certificate authentication needs signature protection");
        }
        if (request.Message.GetExtraCerts() is not [{ X509v3PKCert: { } signer }, ..])
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the signer certificate must be first in extraCerts");
        }
        if (!SignatureVerifier.Verify(signer.SubjectPublicKeyInfo, algorithm, request.ProtectedPart(), request.Message.Protection.GetOctets()))
        {
            throw new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the signature does not verify with the signer certificate");
        }
        return signer;
    }
}
