using System.Security.Cryptography;
using CmpCluster.Contracts;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;

namespace CmpCluster.Protocol.Validation;

/// <summary>
/// What a public key must be before this CA certifies it, whatever proved possession of it (a signature POP, a PKCS#10
/// signature, or an RA that vouches with raVerified): RFC 9481 §2 algorithms, EC keys on P-256/P-384/P-521 that are
/// points of their curve (SEC 1 §2.3.4), RSA keys of 2048 to 8192 bits with an odd modulus and an odd public exponent of
/// at least 3 (RFC 8017 §3.1). A refused key is <c>badCertTemplate</c>.
/// </summary>
public static class PublicKeyRules
{
    /// <summary>
    /// The structure of the key, checked before any proof of possession: algorithm, curve, encoded point, RSA numbers.
    /// A key a signature then verifies with is on its curve (OpenSSL and BouncyCastle decode the point to verify);
    /// one nothing verified with (raVerified) gets <see cref="CheckOnCurve"/>.
    /// </summary>
    public static void Check(SubjectPublicKeyInfo key)
    {
        DerObjectIdentifier type = key.Algorithm.Algorithm;
        if (type.Equals(X9ObjectIdentifiers.IdECPublicKey))
        {
            CheckEc(key);
            return;
        }
        if (type.Equals(PkcsObjectIdentifiers.RsaEncryption))
        {
            CheckRsa(key);
            return;
        }
        throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "only EC and RSA public keys are supported");
    }

    private static void CheckEc(SubjectPublicKeyInfo key)
    {
        int fieldBytes = key.Algorithm.Parameters switch
        {
            DerObjectIdentifier oid when oid.Equals(SecObjectIdentifiers.SecP256r1) => 32,
            DerObjectIdentifier oid when oid.Equals(SecObjectIdentifiers.SecP384r1) => 48,
            DerObjectIdentifier oid when oid.Equals(SecObjectIdentifiers.SecP521r1) => 66,
            _ => throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "EC keys must use P-256, P-384 or P-521"),
        };
        // SEC 1 §2.3.3: an uncompressed (04 || X || Y) or compressed (02/03 || X) point of the curve's field size.
        byte[] point = key.PublicKey.PadBits == 0 ? key.PublicKey.GetBytes() : [];
        bool wellFormed = point is [0x04, ..] ? point.Length == 1 + 2 * fieldBytes
            : point is [0x02 or 0x03, ..] && point.Length == 1 + fieldBytes;
        if (!wellFormed)
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "the EC public key is not an encoded point of its curve");
        }
    }

    /// <summary>An EC key that no signature verified with (raVerified): its point must be on its curve (SEC 1 §3.2.2.1).</summary>
    public static void CheckOnCurve(SubjectPublicKeyInfo key)
    {
        if (!key.Algorithm.Algorithm.Equals(X9ObjectIdentifiers.IdECPublicKey))
        {
            return;
        }
        try
        {
            // OpenSSL, under .NET's import, refuses a point that is not on the curve (or is the point at infinity).
            using var ec = ECDsa.Create();
            ec.ImportSubjectPublicKeyInfo(key.GetEncoded(Asn1Encodable.Der), out _);
        }
        catch (CryptographicException)
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "the EC public key is not a point on its curve");
        }
    }

    private static void CheckRsa(SubjectPublicKeyInfo key)
    {
        RsaPublicKeyStructure rsa;
        try
        {
            rsa = RsaPublicKeyStructure.GetInstance(key.ParsePublicKey());
        }
        catch (Exception e) when (e is ArgumentException or IOException or InvalidCastException)
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "the RSA public key is malformed");
        }
        if (rsa.Modulus.BitLength is < 2048 or > 8192)
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "RSA keys must have 2048 to 8192 bits");
        }
        // RFC 8017 §3.1: n is a product of odd primes; e is odd, at least 3 and below n.
        if (!rsa.Modulus.TestBit(0) || !rsa.PublicExponent.TestBit(0) || rsa.PublicExponent.BitLength < 2
            || rsa.PublicExponent.CompareTo(rsa.Modulus) >= 0)
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "the RSA public key's modulus or exponent is not valid");
        }
    }
}
