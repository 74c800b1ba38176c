using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Client;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using CmpCluster.Protocol.Protection;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using BcPkiFailureInfo = Org.BouncyCastle.Asn1.Cmp.PkiFailureInfo;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Protocol;

/// <summary>
/// PKIFailureInfo is a named-bit BIT STRING (RFC 9810 §5.2.3): bit n is the n-th bit from the left and DER drops
/// trailing zero bits. A wrong encoding makes OpenSSL report a different reason, so each bit is checked.
/// </summary>
public sealed class FailInfoTests
{
    public static TheoryData<PkiFailureInfo> AllBits => new(Enum.GetValues<PkiFailureInfo>());

    /// <summary>BouncyCastle's constant for the bit of the same name (they are int-encoded named bits).</summary>
    private static int BouncyCastleConstant(PkiFailureInfo bit) =>
        (int)(typeof(BcPkiFailureInfo).GetField(bit.ToString(), BindingFlags.Public | BindingFlags.Static)
            ?? throw new InvalidOperationException($"BouncyCastle has no PkiFailureInfo.{bit}")).GetValue(null)!;

    [Fact]
    public void The_enum_numbers_are_the_27_bit_positions_of_RFC_9810()
    {
        Assert.Equal(Enumerable.Range(0, 27), Enum.GetValues<PkiFailureInfo>().Select(b => (int)b));
    }

    [Theory]
    [InlineData(PkiFailureInfo.BadPop, BcPkiFailureInfo.BadPop)]
    [InlineData(PkiFailureInfo.BadMessageCheck, BcPkiFailureInfo.BadMessageCheck)]
    [InlineData(PkiFailureInfo.TransactionIdInUse, BcPkiFailureInfo.TransactionIdInUse)]
    [InlineData(PkiFailureInfo.BadRecipientNonce, BcPkiFailureInfo.BadRecipientNonce)]
    public void FailInfoBits_has_the_DER_of_BouncyCastles_constant(PkiFailureInfo bit, int bouncyCastle)
    {
        Assert.Equal(new BcPkiFailureInfo(bouncyCastle).GetEncoded(Asn1Encodable.Der),
            CmpResponseBuilder.FailInfoBits(bit).GetEncoded(Asn1Encodable.Der));
    }

    [Theory]
    [MemberData(nameof(AllBits))]
    public void FailInfoBits_matches_BouncyCastle_for_every_bit(PkiFailureInfo bit)
    {
        Assert.Equal(new BcPkiFailureInfo(BouncyCastleConstant(bit)).GetEncoded(Asn1Encodable.Der),
            CmpResponseBuilder.FailInfoBits(bit).GetEncoded(Asn1Encodable.Der));
    }

    [Fact]
    public void BadPop_is_bit_9_counted_from_the_left()
    {
        // 03 03 06 00 40: BIT STRING, 3 bytes, 6 unused bits, 0000 0000 01.. ....
        Assert.Equal(new byte[] { 0x03, 0x03, 0x06, 0x00, 0x40 }, CmpResponseBuilder.FailInfoBits(PkiFailureInfo.BadPop).GetEncoded(Asn1Encodable.Der));
    }

    private static CmpResponseView Parse(PkiBody body) => CmpResponseView.Parse(new PkiMessage(
        new PkiHeader(2, new GeneralName(new X509Name("CN=ca")), new GeneralName(new X509Name("CN=client"))), body)
        .GetEncoded(Asn1Encodable.Der));

    [Theory]
    [MemberData(nameof(AllBits))]
    public void Error_body_round_trips_its_failInfo_through_the_client_view(PkiFailureInfo bit)
    {
        CmpResponseView view = Parse(CmpResponseBuilder.Error(new CmpFailure(bit, "text for the client")));

        Assert.Equal(PkiBodyType.Error, view.BodyType);
        Assert.Equal((int)PkiStatus.Rejection, view.Status!.Status.IntValueExact);
        Assert.Equal(new[] { bit }, view.FailInfo);
        Assert.Equal("text for the client", view.Status.StatusString?[0].GetString());
    }

    [Fact]
    public async Task A_built_error_echoes_the_request_and_carries_the_requests_MAC()
    {
        const string secret = "s3cret";
        AlgorithmIdentifier algorithm = PasswordBasedMac.NewAlgorithm(iterations: 500);
        PasswordBasedMac mac = PasswordBasedMac.Derive(algorithm, Encoding.UTF8.GetBytes(secret), new CmpLimits());
        byte[] transactionId = RandomNumberGenerator.GetBytes(16);
        byte[] requestNonce = RandomNumberGenerator.GetBytes(16);
        var context = new ResponseContext(2, new GeneralName(new X509Name("CN=client")), transactionId, requestNonce, null);
        var protector = new MacResponseProtector(mac, new GeneralName(new X509Name("CN=ca")), null, []);

        BuiltResponse response = await CmpResponseBuilder.BuildAsync(context,
            CmpResponseBuilder.Error(new CmpFailure(PkiFailureInfo.BadTime, "late")), protector, DateTimeOffset.UtcNow);

        CmpResponseView view = CmpResponseView.Parse(response.Der);
        Assert.Equal(new[] { PkiFailureInfo.BadTime }, view.FailInfo);
        Assert.Equal(transactionId, view.TransactionId);
        Assert.Equal(requestNonce, view.RecipNonce);
        Assert.Equal(response.SenderNonce, view.SenderNonce);
        Assert.Equal(16, response.SenderNonce.Length);
        Assert.True(new CmpClientSession(secret, "ra").VerifyMac(response.Der));
        Assert.False(new CmpClientSession("other", "ra").VerifyMac(response.Der));
    }
}
