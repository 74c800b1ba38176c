using CmpCluster.Contracts;
using CmpCluster.Grains.Authentication;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Transactions;

/// <summary>Chooses how a response is protected: the alias's choice where possible, else the CMP signer.</summary>
public sealed class ResponseProtectors(AliasCertificates aliasCertificates)
{
    /// <summary>
    /// MAC only when the alias asks for pbe and the request's MAC verified (we then know the secret is shared);
    /// everything else, errors before authentication included, is signed so clients never need unprotected errors.
    /// </summary>
    public ResponseProtector For(CmpAliasOptions? alias, CertificateAuthorityKeys ca, Authenticated? authenticated)
    {
        if (alias?.ResponseProtection == ResponseProtection.Pbe && authenticated?.Mac is { } mac)
        {
            return new MacResponseProtector(mac, new GeneralName(ca.Ca.Certificate.Subject), authenticated.SenderKid,
                aliasCertificates.ExtraCerts(alias, ca.CaChain));
        }
        return Signature(ca, alias);
    }

    /// <summary>
    /// The CMP signer signs the ProtectedPart the response builder made here, in this silo (RFC 9483 §3.3); extraCerts
    /// carry its chain, then the alias's additional certificates.
    /// </summary>
    public ResponseProtector Signature(CertificateAuthorityKeys ca, CmpAliasOptions? alias = null) =>
        new SignatureResponseProtector(ca.CmpSigner.Signer.Algorithm, ca.CmpSigner.Certificate, ca.CmpSigner.SubjectKeyIdentifier,
            aliasCertificates.ExtraCerts(alias, ca.SignerChain), protectedPart => Task.FromResult(ca.CmpSigner.Sign(protectedPart, "response")));
}
