using System.Buffers.Binary;
using CmpCluster.Fuzz.Harness;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using CmpCluster.Protocol.Protection;
using CmpCluster.Protocol.Transport;
using CmpCluster.Tests.EndToEnd;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Xunit;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Fuzz;

/// <summary>
/// The fuzzers' starting corpus (fuzz/corpus/HARNESS) and every input a fuzzer found a fault with (fuzz/regressions/HARNESS),
/// run through the same harness bodies as the fuzzer (fuzz/Harness/FuzzTargets.cs): each harness lets only the
/// exceptions the product deliberately answers pass, so any exception here is a regression. CI runs these, not the fuzzer.
/// </summary>
public sealed class FuzzRegressionTests
{
    private static readonly string[] Folders = ["corpus", "regressions"];

    private static string FuzzFolder => Path.Combine(
        NodeLaunch.RepositoryRoot() ?? throw new InvalidOperationException("no Cluster.sln above the test assembly"), "fuzz");

    /// <summary>(harness, path below fuzz/) for every stored input.</summary>
    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (string folder in Folders)
        {
            foreach (string harness in FuzzTargets.Names)
            {
                foreach (string file in FuzzTargets.Files(Path.Combine(FuzzFolder, folder, harness)))
                {
                    data.Add(harness, Path.GetRelativePath(FuzzFolder, file).Replace('\\', '/'));
                }
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Stored_input_raises_no_unexpected_exception(string harness, string path)
    {
        byte[] input = File.ReadAllBytes(Path.Combine(FuzzFolder, path));

        FuzzTargets.ByName(harness)(input);
    }

    [Fact]
    public void Every_harness_has_a_starting_corpus_and_regressions_are_kept_by_harness()
    {
        foreach (string harness in FuzzTargets.Names)
        {
            Assert.True(FuzzTargets.Files(Path.Combine(FuzzFolder, "corpus", harness)).Count() >= 5, $"fuzz/corpus/{harness} has fewer than 5 inputs");
        }
        string[] unknown = Directory.GetDirectories(Path.Combine(FuzzFolder, "regressions"))
            .Select(Path.GetFileName).Where(name => !FuzzTargets.Names.Contains(name)).ToArray()!;
        Assert.Empty(unknown);
    }

    /// <summary>Malformed CRMF content deep in an ir is refused when the message is decoded, as badRequest (RFC 9810 §5.3.21).</summary>
    [Theory]
    [InlineData("certreqmsg-malformed-argument.der")]
    [InlineData("certreqmsg-wrong-tagging-invalidoperation.der")]
    [InlineData("certtemplate-subject-bad-utf8-decoderfallback.der")]
    [InlineData("pop-signature-pad-bits-ioexception.der")]
    [InlineData("rr-revdetails-malformed-argument.der")]
    [InlineData("genm-itav-malformed-argument.der")]
    [InlineData("protection-pad-bits-ioexception.der")]
    [InlineData("header-generalinfo-malformed-argument.der")]
    [InlineData("header-sender-set-not-der-encodable-invalidoperation.der")]
    [InlineData("pollrep-empty-element-indexoutofrange.der")]
    [InlineData("pollreq-empty-element-indexoutofrange.der")]
    public void Malformed_body_found_by_fuzzing_is_badRequest_at_decode(string file)
    {
        byte[] der = File.ReadAllBytes(Path.Combine(FuzzFolder, "regressions", "request", file));

        var e = Assert.Throws<CmpFailureException>(() => DecodedRequest.Decode(der, new CmpLimits()));

        Assert.Equal(PkiFailureInfo.BadRequest, e.Failure.FailInfo);
    }

    [Fact]
    public void A_key_on_a_curve_the_platform_does_not_know_does_not_verify()
    {
        // An EC key whose named curve is no curve: OpenSSL refuses it with PlatformNotSupportedException.
        var key = new SubjectPublicKeyInfo(
            new AlgorithmIdentifier(X9ObjectIdentifiers.IdECPublicKey, new DerObjectIdentifier("1.2.2376.10045.3.1.7")),
            new byte[65] { 4, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
                1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 });

        Assert.False(SignatureVerifier.Verify(key, new AlgorithmIdentifier(X9ObjectIdentifiers.ECDsaWithSha256), [1, 2, 3], new byte[70]));
    }

    [Fact]
    public async Task A_frame_that_claims_four_gigabytes_is_refused_before_anything_is_allocated()
    {
        var frame = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(frame, uint.MaxValue);
        frame[4] = CmpTcpFrame.Version10;

        // The tcp harness throws FuzzFindingException when one read allocates more than the value limit allows.
        FuzzTargets.Tcp([0, .. frame]);
        CmpTcpReadResult read = await CmpTcpFrameReader.ReadAsync(new MemoryStream(frame), 64 * 1024, fromClient: true,
            TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1), CancellationToken.None);
        Assert.Equal(CmpTcpReadStatus.Fault, read.Status);
        Assert.Equal(CmpTcpHeaderFault.TooLarge, read.Fault);
    }
}
