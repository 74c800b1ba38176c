using System.Text;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.Iana;
using Org.BouncyCastle.Asn1.Nist;
using Org.BouncyCastle.Asn1.Oiw;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Crmf;
using Org.BouncyCastle.Crypto;
using Xunit;
using BigInteger = Org.BouncyCastle.Math.BigInteger;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Protocol;

/// <summary>PasswordBasedMac, RFC 4211 §4.4 / RFC 9481 §6.1.1: same bytes as BouncyCastle's PKMacBuilder, bounded before hashing.</summary>
public sealed class PasswordBasedMacTests
{
    private const string Secret = "s3cret";
    /// <summary>SHA-1 as the one-way function is refused by default (RFC 9481 §2); the interop cases below allow it.</summary>
    private static readonly CmpLimits Limits = new() { AllowedPbmOneWayFunctions = ["SHA1", "SHA256", "SHA384", "SHA512"] };
    private static readonly byte[] Data = Encoding.UTF8.GetBytes("the DER ProtectedPart of some PKIMessage");

    public static TheoryData<string, string, string> Functions => new()
    {
        // owf, mac, why this pair
        { OiwObjectIdentifiers.IdSha1.Id, IanaObjectIdentifiers.HmacSha1.Id, "PKMacBuilder's default, OpenSSL 3.0's hmac-sha1 OID" },
        { OiwObjectIdentifiers.IdSha1.Id, PkcsObjectIdentifiers.IdHmacWithSha1.Id, "RFC 3370 hmac-sha1 OID" },
        { NistObjectIdentifiers.IdSha256.Id, PkcsObjectIdentifiers.IdHmacWithSha256.Id, "RFC 9481 §6.1.1 MUST" },
        { NistObjectIdentifiers.IdSha384.Id, PkcsObjectIdentifiers.IdHmacWithSha384.Id, "SHA-384" },
        { NistObjectIdentifiers.IdSha512.Id, PkcsObjectIdentifiers.IdHmacWithSha512.Id, "SHA-512" },
    };

    private static AlgorithmIdentifier Pbm(byte[] salt, DerObjectIdentifier owf, BigInteger iterations, DerObjectIdentifier mac) =>
        new(CmpObjectIdentifiers.passwordBasedMac, PbmParameter.GetInstance(new DerSequence(
            new DerOctetString(salt), new AlgorithmIdentifier(owf), new DerInteger(iterations), new AlgorithmIdentifier(mac, DerNull.Instance))));

    private static AlgorithmIdentifier Pbm(int saltBytes = 16, int iterations = 1000) =>
        Pbm(new byte[saltBytes], NistObjectIdentifiers.IdSha256, BigInteger.ValueOf(iterations), PkcsObjectIdentifiers.IdHmacWithSha256);

    private static byte[] BouncyCastleMac(IMacFactory factory, byte[] data)
    {
        IStreamCalculator<IBlockResult> calculator = factory.CreateCalculator();
        using (Stream stream = calculator.Stream)
        {
            stream.Write(data);
        }
        return calculator.GetResult().Collect();
    }

    [Theory]
    [MemberData(nameof(Functions))]
    public void Mac_over_parameters_chosen_by_BouncyCastle_equals_PKMacBuilders_when_allowed(string owf, string mac, string why)
    {
        IMacFactory bouncy = new PKMacBuilder(new DefaultPKMacPrimitivesProvider(),
                new AlgorithmIdentifier(new DerObjectIdentifier(owf)), new AlgorithmIdentifier(new DerObjectIdentifier(mac), DerNull.Instance))
            .SetIterationCount(1000)
            .SetSaltLength(16)
            .Build(Secret.ToCharArray());
        var algorithm = (AlgorithmIdentifier)bouncy.AlgorithmDetails;

        PasswordBasedMac ours = PasswordBasedMac.Derive(algorithm, Encoding.UTF8.GetBytes(Secret), Limits);

        byte[] expected = BouncyCastleMac(bouncy, Data);
        Assert.True(expected.Length > 0, why);
        Assert.Equal(expected, ours.Compute(Data));
        Assert.True(ours.Verify(Data, expected));
        Assert.Same(algorithm, ours.Algorithm);
    }

    [Fact]
    public void Mac_over_parameters_chosen_by_us_equals_PKMacBuilders()
    {
        AlgorithmIdentifier algorithm = PasswordBasedMac.NewAlgorithm(iterations: 2000, saltBytes: 24);
        IMacFactory bouncy = new PKMacBuilder(new DefaultPKMacPrimitivesProvider(), maxIterations: 10_000)
            .SetParameters(PbmParameter.GetInstance(algorithm.Parameters))
            .Build(Secret.ToCharArray());

        PasswordBasedMac ours = PasswordBasedMac.Derive(algorithm, Encoding.UTF8.GetBytes(Secret), Limits);

        Assert.Equal(BouncyCastleMac(bouncy, Data), ours.Compute(Data));
    }

    [Fact]
    public void A_non_ascii_secret_is_taken_as_UTF8_like_PKMacBuilder_does()
    {
        const string secret = "pässwörd-秘密";
        IMacFactory bouncy = new PKMacBuilder(new DefaultPKMacPrimitivesProvider(),
                new AlgorithmIdentifier(NistObjectIdentifiers.IdSha256), new AlgorithmIdentifier(PkcsObjectIdentifiers.IdHmacWithSha256, DerNull.Instance))
            .SetIterationCount(500)
            .Build(secret.ToCharArray());

        PasswordBasedMac ours = PasswordBasedMac.Derive((AlgorithmIdentifier)bouncy.AlgorithmDetails, Encoding.UTF8.GetBytes(secret), Limits);

        Assert.Equal(BouncyCastleMac(bouncy, Data), ours.Compute(Data));
    }

    [Fact]
    public void Verify_refuses_a_wrong_secret_and_altered_data()
    {
        AlgorithmIdentifier algorithm = PasswordBasedMac.NewAlgorithm(iterations: 500);
        byte[] mac = PasswordBasedMac.Derive(algorithm, Encoding.UTF8.GetBytes(Secret), Limits).Compute(Data);

        Assert.False(PasswordBasedMac.Derive(algorithm, Encoding.UTF8.GetBytes("other"), Limits).Verify(Data, mac));
        Assert.False(PasswordBasedMac.Derive(algorithm, Encoding.UTF8.GetBytes(Secret), Limits).Verify([.. Data, 0], mac));
        Assert.False(PasswordBasedMac.Derive(algorithm, Encoding.UTF8.GetBytes(Secret), Limits).Verify(Data, mac[..^1]));
    }

    [Fact]
    public void Iterations_at_the_limit_are_accepted()
    {
        var limits = new CmpLimits { MaxPbmIterations = 1000 };

        PasswordBasedMac.Derive(Pbm(iterations: 1000), Encoding.UTF8.GetBytes(Secret), limits);
        PasswordBasedMac.Derive(Pbm(saltBytes: 8), Encoding.UTF8.GetBytes(Secret), limits);
    }

    public static TheoryData<string, long> IterationsOutOfBounds => new()
    {
        { "one above the limit", 100_001 },
        { "int.MaxValue, which would take minutes to hash", int.MaxValue },
        { "beyond int", 1L << 40 },
        { "zero", 0 },
        { "negative", -1 },
    };

    [Theory]
    [MemberData(nameof(IterationsOutOfBounds))]
    public void Iterations_out_of_bounds_are_badMessageCheck(string why, long iterations)
    {
        AlgorithmIdentifier algorithm = Pbm(new byte[16], NistObjectIdentifiers.IdSha256, BigInteger.ValueOf(iterations),
            PkcsObjectIdentifiers.IdHmacWithSha256);

        var e = Assert.Throws<CmpFailureException>(() => PasswordBasedMac.Derive(algorithm, Encoding.UTF8.GetBytes(Secret), Limits));

        Assert.True(e.Failure.FailInfo == PkiFailureInfo.BadMessageCheck, why);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(1025)]
    public void Salt_length_out_of_bounds_is_badMessageCheck(int saltBytes)
    {
        var e = Assert.Throws<CmpFailureException>(() => PasswordBasedMac.Derive(Pbm(saltBytes), Encoding.UTF8.GetBytes(Secret), Limits));

        Assert.Equal(PkiFailureInfo.BadMessageCheck, e.Failure.FailInfo);
    }

    [Fact]
    public void Unknown_one_way_function_is_badAlg()
    {
        AlgorithmIdentifier algorithm = Pbm(new byte[16], PkcsObjectIdentifiers.MD5, BigInteger.ValueOf(1000), PkcsObjectIdentifiers.IdHmacWithSha256);

        var e = Assert.Throws<CmpFailureException>(() => PasswordBasedMac.Derive(algorithm, Encoding.UTF8.GetBytes(Secret), Limits));

        Assert.Equal(PkiFailureInfo.BadAlg, e.Failure.FailInfo);
    }

    [Fact]
    public void Unknown_mac_algorithm_is_badAlg()
    {
        AlgorithmIdentifier algorithm = Pbm(new byte[16], NistObjectIdentifiers.IdSha256, BigInteger.ValueOf(1000), PkcsObjectIdentifiers.MD5);

        var e = Assert.Throws<CmpFailureException>(() => PasswordBasedMac.Derive(algorithm, Encoding.UTF8.GetBytes(Secret), Limits));

        Assert.Equal(PkiFailureInfo.BadAlg, e.Failure.FailInfo);
    }

    public static TheoryData<string> MalformedParameters => new() { "missing", "INTEGER", "SEQUENCE of one", "wrong field types" };

    [Theory]
    [MemberData(nameof(MalformedParameters))]
    public void Missing_or_malformed_parameters_are_badAlg(string shape)
    {
        Asn1Encodable? parameters = shape switch
        {
            "missing" => null,
            "INTEGER" => DerInteger.ValueOf(5),
            "SEQUENCE of one" => new DerSequence(new DerOctetString(new byte[16])),
            _ => new DerSequence(DerInteger.ValueOf(1), DerInteger.ValueOf(2), DerInteger.ValueOf(3), DerInteger.ValueOf(4)),
        };
        var algorithm = new AlgorithmIdentifier(CmpObjectIdentifiers.passwordBasedMac, parameters);

        var e = Assert.Throws<CmpFailureException>(() => PasswordBasedMac.Derive(algorithm, Encoding.UTF8.GetBytes(Secret), Limits));

        Assert.Equal(PkiFailureInfo.BadAlg, e.Failure.FailInfo);
    }

    [Fact]
    public void IsPasswordBasedMac_recognizes_only_the_PBM_oid()
    {
        Assert.True(PasswordBasedMac.IsPasswordBasedMac(PasswordBasedMac.NewAlgorithm()));
        Assert.False(PasswordBasedMac.IsPasswordBasedMac(new AlgorithmIdentifier(PkcsObjectIdentifiers.Sha256WithRsaEncryption)));
        Assert.False(PasswordBasedMac.IsPasswordBasedMac(null));
    }

    [Fact]
    public void New_parameters_use_a_fresh_salt_each_time()
    {
        PbmParameter first = PbmParameter.GetInstance(PasswordBasedMac.NewAlgorithm().Parameters);
        PbmParameter second = PbmParameter.GetInstance(PasswordBasedMac.NewAlgorithm().Parameters);

        Assert.Equal(16, first.Salt.GetOctets().Length);
        Assert.NotEqual(first.Salt.GetOctets(), second.Salt.GetOctets());
        Assert.Equal(NistObjectIdentifiers.IdSha256, first.Owf.Algorithm);
    }

    [Fact]
    public void Default_limits_refuse_a_sha1_one_way_function_with_badAlg_before_hashing()
    {
        IMacFactory bouncy = new PKMacBuilder(new DefaultPKMacPrimitivesProvider(),
                new AlgorithmIdentifier(new DerObjectIdentifier("1.3.14.3.2.26")), new AlgorithmIdentifier(PkcsObjectIdentifiers.IdHmacWithSha256, DerNull.Instance))
            .SetIterationCount(1000).SetSaltLength(16).Build(Secret.ToCharArray());
        var e = Assert.Throws<CmpFailureException>(() => PasswordBasedMac.Check((AlgorithmIdentifier)bouncy.AlgorithmDetails, new CmpLimits()));
        Assert.Equal(PkiFailureInfo.BadAlg, e.Failure.FailInfo);
    }

    [Fact]
    public void A_mac_algorithm_outside_the_allowed_list_is_badAlg()
    {
        AlgorithmIdentifier algorithm = PasswordBasedMac.NewAlgorithm(iterations: 1000); // HMAC-SHA256 over SHA-256
        var e = Assert.Throws<CmpFailureException>(() => PasswordBasedMac.Check(algorithm, new CmpLimits { AllowedPbmMacAlgorithms = ["HMAC-SHA512"] }));
        Assert.Equal(PkiFailureInfo.BadAlg, e.Failure.FailInfo);
    }
}
