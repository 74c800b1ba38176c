using CmpCluster.Contracts;
using CmpCluster.Grains.Authentication;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Transactions;

/// <summary>Chooses how a response is protected: the alias's choice where possible, else the CMP signer.</summary>
public sealed class ResponseProtectors
{
    /// <summary>
    /// MAC only when the alias asks for pbe and the request's MAC verified (we then know the secret is shared);
    /// everything else, errors before authentication included, is signed so clients never need unprotected errors.
    /// </summary>
    public ResponseProtector For(CmpAliasOptions? alias, CertificateAuthorityKeys ca, Authenticated? authenticated)
    {
        if (alias?.ResponseProtection == ResponseProtection.Pbe && authenticated?.Mac is { } mac)
        {
            return new MacResponseProtector(mac, new GeneralName(ca.Ca.Certificate.Subject), authenticated.SenderKid, ca.CaChain);
        }
        return Signature(ca);
    }

    /// <summary>The CMP signer signs the ProtectedPart the response builder made here, in this silo (RFC 9483 §3.3).</summary>
    public ResponseProtector Signature(CertificateAuthorityKeys ca) =>
        new SignatureResponseProtector(ca.CmpSigner.Signer.Algorithm, ca.CmpSigner.Certificate, ca.CmpSigner.SubjectKeyIdentifier,
            ca.SignerChain, protectedPart => Task.FromResult(ca.CmpSigner.Sign(protectedPart, "response")));
}
