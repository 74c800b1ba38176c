using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Configuration;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.Sec;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;

namespace CmpCluster.Protocol.Validation;

/// <summary>
/// What a public key must be before this CA certifies it, whatever proved possession of it (a signature POP, a PKCS#10
/// signature, or an RA that vouches with raVerified): RFC 9481 §2 algorithms the certificate profile allows, EC keys on a
/// curve it allows (P-256, P-384, P-521) that are points of that curve (SEC 1 §2.3.4), RSA keys of the sizes it allows
/// (default 2048 to 8192 bits) with an odd modulus and an odd public exponent of at least 3 (RFC 8017 §3.1). A refused key
/// is <c>badCertTemplate</c>.
/// </summary>
public static class PublicKeyRules
{
    /// <summary>
    /// The structure of the key, checked before any proof of possession: algorithm, curve, encoded point, RSA numbers.
    /// A key a signature then verifies with is on its curve (OpenSSL and BouncyCastle decode the point to verify);
    /// one nothing verified with (raVerified) gets <see cref="CheckOnCurve"/>.
    /// </summary>
    public static void Check(SubjectPublicKeyInfo key, CertificateProfileOptions? profile = null)
    {
        profile ??= Defaults;
        DerObjectIdentifier type = key.Algorithm.Algorithm;
        if (type.Equals(X9ObjectIdentifiers.IdECPublicKey) && Allows(profile.KeyAlgorithms, "EC"))
        {
            CheckEc(key, profile);
            return;
        }
        if (type.Equals(PkcsObjectIdentifiers.RsaEncryption) && Allows(profile.KeyAlgorithms, "RSA"))
        {
            CheckRsa(key, profile);
            return;
        }
        throw new CmpFailureException(PkiFailureInfo.BadCertTemplate,
            $"the certificate profile certifies {string.Join(" and ", profile.KeyAlgorithms)} keys only");
    }

    private static readonly CertificateProfileOptions Defaults = new();

    private static bool Allows(IReadOnlyList<string> names, string name) => names.Contains(name, StringComparer.OrdinalIgnoreCase);

    /// <summary>The curve names of <see cref="CertificateProfileOptions.AllowedCurves"/>, with their field size in bytes.</summary>
    public static readonly IReadOnlyDictionary<string, (DerObjectIdentifier Oid, int FieldBytes)> NamedCurves =
        new Dictionary<string, (DerObjectIdentifier, int)>(StringComparer.OrdinalIgnoreCase)
        {
            ["P-256"] = (SecObjectIdentifiers.SecP256r1, 32),
            ["P-384"] = (SecObjectIdentifiers.SecP384r1, 48),
            ["P-521"] = (SecObjectIdentifiers.SecP521r1, 66),
        };

    private static void CheckEc(SubjectPublicKeyInfo key, CertificateProfileOptions profile)
    {
        int fieldBytes = profile.Curves
            .Where(NamedCurves.ContainsKey)
            .Select(name => NamedCurves[name])
            .FirstOrDefault(curve => key.Algorithm.Parameters is DerObjectIdentifier oid && oid.Equals(curve.Oid)).FieldBytes;
        if (fieldBytes == 0)
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, $"EC keys must use {string.Join(", ", profile.Curves)}");
        }
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

    private static void CheckRsa(SubjectPublicKeyInfo key, CertificateProfileOptions profile)
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
        if (rsa.Modulus.BitLength < profile.MinRsaBits || rsa.Modulus.BitLength > profile.MaxRsaBits)
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, $"RSA keys must have {profile.MinRsaBits} to {profile.MaxRsaBits} bits");
        }
        // RFC 8017 §3.1: n is a product of odd primes; e is odd, at least 3 and below n.
        if (!rsa.Modulus.TestBit(0) || !rsa.PublicExponent.TestBit(0) || rsa.PublicExponent.BitLength < 2
            || rsa.PublicExponent.CompareTo(rsa.Modulus) >= 0)
        {
            throw new CmpFailureException(PkiFailureInfo.BadCertTemplate, "the RSA public key's modulus or exponent is not valid");
        }
    }
}
