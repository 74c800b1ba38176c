using System.Security.Cryptography;
using System.Text;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Nist;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Protocol;

/// <summary>PBMAC1, RFC 8018 §7.1 with PBKDF2 as profiled by RFC 9481 §6.1.2: the key, the MAC, and the parameter bounds.</summary>
public sealed class Pbmac1Tests
{
    private static readonly CmpLimits Limits = new();
    private static readonly byte[] Data = Encoding.UTF8.GetBytes("the DER ProtectedPart of some PKIMessage");

    private static AlgorithmIdentifier Hmac(DerObjectIdentifier oid) => new(oid, DerNull.Instance);

    private static AlgorithmIdentifier Pbmac1(byte[] salt, int iterations, int? keyLength, AlgorithmIdentifier prf, AlgorithmIdentifier mac,
        DerObjectIdentifier? kdf = null)
    {
        var pbkdf2 = keyLength is { } length ? new Pbkdf2Params(salt, iterations, length, prf) : new Pbkdf2Params(salt, iterations, prf);
        return new AlgorithmIdentifier(PkcsObjectIdentifiers.IdPbmac1,
            new DerSequence(new AlgorithmIdentifier(kdf ?? PkcsObjectIdentifiers.IdPbkdf2, pbkdf2), mac));
    }

    [Fact]
    public void The_key_is_pbkdf2_of_the_secret_and_the_mac_is_hmac_with_it()
    {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256, P = "passwd", S = "salt", c = 1, dkLen = 64.
        var limits = new CmpLimits { MinPbmIterations = 1, MinPbmSaltBytes = 4 };
        AlgorithmIdentifier algorithm = Pbmac1("salt"u8.ToArray(), 1, 64, Hmac(PkcsObjectIdentifiers.IdHmacWithSha256), Hmac(PkcsObjectIdentifiers.IdHmacWithSha256));

        PasswordBasedMac mac = PasswordBasedMac.Derive(algorithm, "passwd"u8, limits);

        byte[] expectedKey = Convert.FromHexString(
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783");
        Assert.Equal(expectedKey, mac.ExportKey());
        Assert.Equal(HMACSHA256.HashData(expectedKey, Data), mac.Compute(Data));
        Assert.True(mac.Verify(Data, HMACSHA256.HashData(expectedKey, Data)));
        Assert.True(PasswordBasedMac.IsPasswordBasedMac(algorithm));
    }

    [Fact]
    public void Without_keyLength_the_key_has_the_length_of_the_mac_and_a_new_algorithm_round_trips()
    {
        AlgorithmIdentifier algorithm = Pbmac1(RandomNumberGenerator.GetBytes(16), 1000, null, Hmac(PkcsObjectIdentifiers.IdHmacWithSha256), Hmac(PkcsObjectIdentifiers.IdHmacWithSha512));
        Assert.Equal(64, PasswordBasedMac.Derive(algorithm, "secret"u8, Limits).ExportKey().Length);

        AlgorithmIdentifier fresh = PasswordBasedMac.NewPbmac1Algorithm(iterations: 2000);
        PasswordBasedMac sender = PasswordBasedMac.Derive(fresh, "secret"u8, Limits);
        PasswordBasedMac receiver = PasswordBasedMac.FromDerivedKey(fresh, sender.ExportKey());
        Assert.True(receiver.Verify(Data, sender.Compute(Data)));
        Assert.False(PasswordBasedMac.Derive(fresh, "other"u8, Limits).Verify(Data, sender.Compute(Data)));
    }

    public static TheoryData<string, int, PkiFailureInfo> Refused => new()
    {
        { "iterations below the floor", 0, PkiFailureInfo.BadMessageCheck },
        { "iterations above the ceiling", 1, PkiFailureInfo.BadMessageCheck },
        { "salt too short", 2, PkiFailureInfo.BadMessageCheck },
        { "keyLength too short", 3, PkiFailureInfo.BadMessageCheck },
        { "PRF not allowed", 4, PkiFailureInfo.BadAlg },
        { "MAC not allowed", 5, PkiFailureInfo.BadAlg },
        { "key derivation not PBKDF2", 6, PkiFailureInfo.BadAlg },
        { "parameters missing", 7, PkiFailureInfo.BadAlg },
        { "parameters not a sequence of two", 8, PkiFailureInfo.BadAlg },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Parameters_out_of_bounds_are_refused_before_any_hashing(string why, int variant, PkiFailureInfo expected)
    {
        var limits = new CmpLimits { AllowedPbmMacAlgorithms = ["HMAC-SHA256"] };
        byte[] salt = RandomNumberGenerator.GetBytes(16);
        AlgorithmIdentifier sha256 = Hmac(PkcsObjectIdentifiers.IdHmacWithSha256);
        AlgorithmIdentifier algorithm = variant switch
        {
            0 => Pbmac1(salt, limits.MinPbmIterations - 1, 32, sha256, sha256),
            1 => Pbmac1(salt, limits.MaxPbmIterations + 1, 32, sha256, sha256),
            2 => Pbmac1(salt[..(limits.MinPbmSaltBytes - 1)], 1000, 32, sha256, sha256),
            3 => Pbmac1(salt, 1000, 8, sha256, sha256),
            4 => Pbmac1(salt, 1000, 32, Hmac(PkcsObjectIdentifiers.IdHmacWithSha1), sha256),
            5 => Pbmac1(salt, 1000, 32, sha256, Hmac(PkcsObjectIdentifiers.IdHmacWithSha512)),
            6 => Pbmac1(salt, 1000, 32, sha256, sha256, kdf: NistObjectIdentifiers.IdSha256),
            7 => new AlgorithmIdentifier(PkcsObjectIdentifiers.IdPbmac1),
            _ => new AlgorithmIdentifier(PkcsObjectIdentifiers.IdPbmac1, new DerSequence(sha256)),
        };

        var e = Assert.Throws<CmpFailureException>(() => PasswordBasedMac.Derive(algorithm, "secret"u8, limits));
        Assert.True(expected == e.Failure.FailInfo, why);
    }
}
