using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Protocol.Messages;

/// <summary>How one response is protected: the header fields that name the protection, and the protection itself.</summary>
public abstract class ResponseProtector
{
    public abstract AlgorithmIdentifier Algorithm { get; }

    /// <summary>header.sender of the response.</summary>
    public abstract GeneralName Sender { get; }

    public abstract byte[]? SenderKid { get; }

    /// <summary>extraCerts of the response: for signatures, the signer first, then its chain (RFC 9483 §3.3).</summary>
    public abstract X509CertificateStructure[] ExtraCerts { get; }

    public abstract ValueTask<byte[]> ProtectAsync(byte[] protectedPart);
}

/// <summary>PasswordBasedMac with the request's own parameters and derived key (RFC 9483 §3.2).</summary>
public sealed class MacResponseProtector(PasswordBasedMac mac, GeneralName sender, byte[]? senderKid, X509CertificateStructure[] extraCerts)
    : ResponseProtector
{
    public override AlgorithmIdentifier Algorithm => mac.Algorithm;
    public override GeneralName Sender => sender;
    public override byte[]? SenderKid => senderKid;
    public override X509CertificateStructure[] ExtraCerts => extraCerts;
    public override ValueTask<byte[]> ProtectAsync(byte[] protectedPart) => ValueTask.FromResult(mac.Compute(protectedPart));
}

/// <summary>
/// Signature with the CMP signer certificate. sender is the signer's subject and senderKID its subject key
/// identifier, which OpenSSL checks against the certificate it selects (RFC 9483 §3.1).
/// </summary>
public sealed class SignatureResponseProtector(
    AlgorithmIdentifier algorithm,
    X509CertificateStructure signerCertificate,
    byte[]? subjectKeyIdentifier,
    X509CertificateStructure[] extraCerts,
    Func<byte[], Task<byte[]>> sign) : ResponseProtector
{
    public override AlgorithmIdentifier Algorithm => algorithm;
    public override GeneralName Sender { get; } = new(signerCertificate.Subject);
    public override byte[]? SenderKid => subjectKeyIdentifier;
    public override X509CertificateStructure[] ExtraCerts => extraCerts;
    public override async ValueTask<byte[]> ProtectAsync(byte[] protectedPart) => await sign(protectedPart);
}
