using System.Security.Cryptography;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;

namespace CmpCluster.Protocol.Protection;

/// <summary>
/// Verifies signatures through OpenSSL: ECDSA on the named NIST curves straight into libcrypto (<see cref="OpenSslDirect"/>),
/// everything else through .NET; never BouncyCastle, whose RSA key import alone runs a primality check of about 17 ms.
/// Algorithms per RFC 9481 §3: ECDSA with SHA-2, RSA PKCS#1 v1.5 with SHA-2.
/// </summary>
public static class SignatureVerifier
{
    /// <summary>True when <paramref name="algorithm"/> is supported and the signature verifies; false otherwise.</summary>
    public static bool Verify(SubjectPublicKeyInfo publicKey, AlgorithmIdentifier algorithm, ReadOnlySpan<byte> data, ReadOnlySpan<byte> signature)
    {
        DerObjectIdentifier keyType = publicKey.Algorithm.Algorithm;
        try
        {
            if (keyType.Equals(X9ObjectIdentifiers.IdECPublicKey) && EcdsaHash(algorithm.Algorithm) is { } ecHash)
            {
                if (OpenSslDirect.TryVerifyEcdsa(publicKey, ecHash, data, signature) is { } verified)
                {
                    return verified;
                }
                using var ec = ECDsa.Create();
                ec.ImportSubjectPublicKeyInfo(publicKey.GetEncoded(Asn1Encodable.Der), out _);
                return ec.VerifyData(data, signature, ecHash, DSASignatureFormat.Rfc3279DerSequence);
            }
            if (keyType.Equals(PkcsObjectIdentifiers.RsaEncryption) && RsaHash(algorithm.Algorithm) is { } rsaHash)
            {
                using var rsa = RSA.Create();
                rsa.ImportSubjectPublicKeyInfo(publicKey.GetEncoded(Asn1Encodable.Der), out _);
                return rsa.VerifyData(data, signature, rsaHash, RSASignaturePadding.Pkcs1);
            }
        }
        catch (Exception e) when (e is CryptographicException or PlatformNotSupportedException)
        {
            // A key on a curve the platform does not know (PlatformNotSupportedException) verifies nothing either
            // (fuzz/regressions/request/signature-unknown-curve-platformnotsupported.der).
            return false;
        }
        return false;
    }

    /// <summary>Whether the algorithm is one we can verify at all (an unknown one is badAlg, not a bad signature).</summary>
    public static bool IsSupported(AlgorithmIdentifier algorithm) =>
        EcdsaHash(algorithm.Algorithm) is not null || RsaHash(algorithm.Algorithm) is not null;

    private static HashAlgorithmName? EcdsaHash(DerObjectIdentifier oid)
    {
        if (oid.Equals(X9ObjectIdentifiers.ECDsaWithSha256)) return HashAlgorithmName.SHA256;
        if (oid.Equals(X9ObjectIdentifiers.ECDsaWithSha384)) return HashAlgorithmName.SHA384;
        if (oid.Equals(X9ObjectIdentifiers.ECDsaWithSha512)) return HashAlgorithmName.SHA512;
        return null;
    }

    private static HashAlgorithmName? RsaHash(DerObjectIdentifier oid)
    {
        if (oid.Equals(PkcsObjectIdentifiers.Sha256WithRsaEncryption)) return HashAlgorithmName.SHA256;
        if (oid.Equals(PkcsObjectIdentifiers.Sha384WithRsaEncryption)) return HashAlgorithmName.SHA384;
        if (oid.Equals(PkcsObjectIdentifiers.Sha512WithRsaEncryption)) return HashAlgorithmName.SHA512;
        return null;
    }

    /// <summary>The digest of a certificate's signature algorithm (for certHash, RFC 9810 §5.3.18); null if unknown.</summary>
    public static HashAlgorithmName? SignatureDigest(AlgorithmIdentifier signatureAlgorithm) =>
        EcdsaHash(signatureAlgorithm.Algorithm) ?? RsaHash(signatureAlgorithm.Algorithm);
}
