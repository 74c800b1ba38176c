using System.Security.Cryptography;
using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Xunit;

namespace CmpCluster.Tests.Protocol;

/// <summary>
/// The direct libcrypto calls (<see cref="OpenSslDirect"/>) give exactly what .NET gives: the same PBM key for any secret,
/// salt and count, the same verdict for good, altered and malformed signatures and keys. The CI machine (Debian 12,
/// OpenSSL 3) has them; the test fails rather than skips when they are missing there, so a silent fallback is noticed.
/// </summary>
public sealed class OpenSslDirectTests
{
    [Fact]
    public void The_direct_calls_are_available_on_this_platform()
    {
        Assert.True(OpenSslDirect.Available, "libcrypto.so.3 or one of its SHA256_*/EC_KEY_*/ECDSA_verify symbols was not found");
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(8, 1)]
    [InlineData(16, 2)]
    [InlineData(16, 500)]
    [InlineData(1024, 1000)]
    public void Iterated_sha256_matches_dotnet(int secretLength, int iterations)
    {
        byte[] secret = RandomNumberGenerator.GetBytes(secretLength);
        byte[] salt = RandomNumberGenerator.GetBytes(16);
        Span<byte> direct = stackalloc byte[64];
        Assert.True(OpenSslDirect.TryIterateSha256(secret, salt, iterations, direct));
        byte[] managed = PasswordBasedMac.IterateManaged(HashAlgorithmName.SHA256, secret, salt, iterations, new byte[64]);
        Assert.Equal(Convert.ToHexString(managed), Convert.ToHexString(direct[..32]));
    }

    public static TheoryData<string, string> Curves => new()
    {
        { "nistP256", "SHA256" }, { "nistP384", "SHA384" }, { "nistP521", "SHA512" }, { "nistP256", "SHA512" }, { "nistP384", "SHA256" },
    };

    [Theory]
    [MemberData(nameof(Curves))]
    public void Ecdsa_verdicts_match_dotnet(string curveName, string hashName)
    {
        using var key = ECDsa.Create(ECCurve.CreateFromFriendlyName(curveName));
        var hash = new HashAlgorithmName(hashName);
        SubjectPublicKeyInfo spki = SubjectPublicKeyInfo.GetInstance(key.ExportSubjectPublicKeyInfo());
        byte[] data = RandomNumberGenerator.GetBytes(300);
        byte[] signature = key.SignData(data, hash, DSASignatureFormat.Rfc3279DerSequence);

        Assert.True(OpenSslDirect.TryVerifyEcdsa(spki, hash, data, signature));

        byte[] otherData = data.ToArray();
        otherData[7] ^= 1;
        Assert.False(OpenSslDirect.TryVerifyEcdsa(spki, hash, otherData, signature));
        byte[] otherSignature = signature.ToArray();
        otherSignature[^3] ^= 1;
        Assert.False(OpenSslDirect.TryVerifyEcdsa(spki, hash, data, otherSignature));
        Assert.False(OpenSslDirect.TryVerifyEcdsa(spki, hash, data, []));
        Assert.False(OpenSslDirect.TryVerifyEcdsa(spki, hash, data, signature.AsSpan(0, signature.Length - 1)));
        // The P1363 form (r || s) is not the DER that CMP carries.
        Assert.False(OpenSslDirect.TryVerifyEcdsa(spki, hash, data, key.SignData(data, hash, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)));
    }

    [Fact]
    public void A_point_off_the_curve_or_empty_verifies_nothing()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        byte[] data = RandomNumberGenerator.GetBytes(32);
        byte[] signature = key.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        SubjectPublicKeyInfo spki = SubjectPublicKeyInfo.GetInstance(key.ExportSubjectPublicKeyInfo());
        byte[] point = spki.PublicKey.GetOctets();
        point[^1] ^= 1; // y no longer matches x
        Assert.False(OpenSslDirect.TryVerifyEcdsa(new SubjectPublicKeyInfo(spki.Algorithm, point), HashAlgorithmName.SHA256, data, signature));
        Assert.False(OpenSslDirect.TryVerifyEcdsa(new SubjectPublicKeyInfo(spki.Algorithm, Array.Empty<byte>()), HashAlgorithmName.SHA256, data, signature));
        Assert.False(OpenSslDirect.TryVerifyEcdsa(new SubjectPublicKeyInfo(spki.Algorithm, new byte[] { 0x00 }), HashAlgorithmName.SHA256, data, signature));
        // A BIT STRING with unused bits is no EC point (RFC 5480 §2.2): refused, not thrown.
        Assert.False(OpenSslDirect.TryVerifyEcdsa(new SubjectPublicKeyInfo(spki.Algorithm, new DerBitString(spki.PublicKey.GetOctets(), 3)),
            HashAlgorithmName.SHA256, data, signature));
        // The same key on another curve: the point is not on P-384.
        var onP384 = new AlgorithmIdentifier(X9ObjectIdentifiers.IdECPublicKey, Org.BouncyCastle.Asn1.Sec.SecObjectIdentifiers.SecP384r1);
        Assert.False(OpenSslDirect.TryVerifyEcdsa(new SubjectPublicKeyInfo(onP384, spki.PublicKey.GetOctets()), HashAlgorithmName.SHA256, data, signature));
    }

    [Fact]
    public void Keys_it_does_not_handle_go_back_to_dotnet()
    {
        using var rsa = RSA.Create(2048);
        SubjectPublicKeyInfo rsaKey = SubjectPublicKeyInfo.GetInstance(rsa.ExportSubjectPublicKeyInfo());
        Assert.Null(OpenSslDirect.TryVerifyEcdsa(rsaKey, HashAlgorithmName.SHA256, [1], [2]));
        // secp256k1: a named curve, but not one of RFC 9481's.
        var k1 = new AlgorithmIdentifier(X9ObjectIdentifiers.IdECPublicKey, Org.BouncyCastle.Asn1.Sec.SecObjectIdentifiers.SecP256k1);
        Assert.Null(OpenSslDirect.TryVerifyEcdsa(new SubjectPublicKeyInfo(k1, new byte[65]), HashAlgorithmName.SHA256, [1], [2]));
        // Explicit curve parameters instead of a name.
        var explicitCurve = new AlgorithmIdentifier(X9ObjectIdentifiers.IdECPublicKey, new DerSequence(DerInteger.One));
        Assert.Null(OpenSslDirect.TryVerifyEcdsa(new SubjectPublicKeyInfo(explicitCurve, new byte[65]), HashAlgorithmName.SHA256, [1], [2]));
        Assert.Null(OpenSslDirect.TryVerifyEcdsa(SubjectPublicKeyInfo.GetInstance(ECDsa.Create(ECCurve.NamedCurves.nistP256).ExportSubjectPublicKeyInfo()),
            HashAlgorithmName.MD5, [1], [2]));
    }
}
