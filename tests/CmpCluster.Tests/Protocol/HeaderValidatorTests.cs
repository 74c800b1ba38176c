using System.Security.Cryptography;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Client;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using CmpCluster.Protocol.Protection;
using CmpCluster.Protocol.Validation;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Protocol;

/// <summary>RFC 9483 §3.1 and RFC 9810 §5.1.1 header rules as pure functions of (request, limits, now).</summary>
public sealed class HeaderValidatorTests
{
    private static readonly CmpLimits Limits = new();
    private static readonly DateTimeOffset Now = new(2030, 1, 15, 12, 0, 0, TimeSpan.Zero);

    private static DecodedRequest Decode(byte[] der) => DecodedRequest.Decode(der, Limits);

    /// <summary>An ir made by the CMP client at <see cref="Now"/>, with the given header fields changed.</summary>
    private static DecodedRequest Ir(RequestOverrides overrides, byte[]? transactionId = null)
    {
        CmpClientSession session = TestRequests.Session();
        if (transactionId is not null)
        {
            session.TransactionId = transactionId;
        }
        return Decode(TestRequests.Ir(session, overrides with { MessageTime = overrides.MessageTime ?? Now }));
    }

    private static PkiFailureInfo Refusal(DecodedRequest request)
    {
        var e = Assert.Throws<CmpFailureException>(() => HeaderValidator.Validate(request, Limits, Now));
        return e.Failure.FailInfo;
    }

    [Fact]
    public void A_well_formed_ir_passes()
    {
        HeaderValidator.Validate(Ir(new RequestOverrides()), Limits, Now);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(-2)]
    public void Pvno_other_than_2_or_3_is_unsupportedVersion(int pvno)
    {
        Assert.Equal(PkiFailureInfo.UnsupportedVersion, Refusal(Ir(new RequestOverrides { Pvno = pvno })));
    }

    [Fact]
    public void Pvno_beyond_int_is_unsupportedVersion()
    {
        PkiHeader header = TestRequests.Header().SetProtectionAlg(PasswordBasedMac.NewAlgorithm()).Build();
        Asn1Encodable[] fields = Asn1Sequence.GetInstance(header.ToAsn1Object()).ToArray();
        fields[0] = new DerInteger(Org.BouncyCastle.Math.BigInteger.One.ShiftLeft(40));
        var message = new PkiMessage(PkiHeader.GetInstance(new DerSequence(fields)), TestRequests.GenmBody(), new DerBitString(new byte[32]));

        Assert.Equal(PkiFailureInfo.UnsupportedVersion, Refusal(Decode(message.GetEncoded(Asn1Encodable.Der))));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Pvno_2_and_3_pass(int pvno)
    {
        HeaderValidator.Validate(Ir(new RequestOverrides { Pvno = pvno }), Limits, Now);
    }

    [Theory]
    [InlineData(15, PkiFailureInfo.BadRequest)]
    [InlineData(65, PkiFailureInfo.BadRequest)]
    [InlineData(16, null)]
    [InlineData(64, null)]
    public void TransactionID_carries_16_to_64_bytes(int length, PkiFailureInfo? expected)
    {
        DecodedRequest request = Ir(new RequestOverrides(), transactionId: RandomNumberGenerator.GetBytes(length));

        AssertOutcome(request, expected);
    }

    [Theory]
    [InlineData(8, PkiFailureInfo.BadSenderNonce)]
    [InlineData(15, PkiFailureInfo.BadSenderNonce)]
    [InlineData(65, PkiFailureInfo.BadSenderNonce)]
    [InlineData(16, null)]
    [InlineData(64, null)]
    public void SenderNonce_carries_16_to_64_bytes(int length, PkiFailureInfo? expected)
    {
        AssertOutcome(Ir(new RequestOverrides { SenderNonce = RandomNumberGenerator.GetBytes(length) }), expected);
    }

    [Theory]
    [InlineData(65, PkiFailureInfo.BadRecipientNonce)]
    [InlineData(64, null)]
    [InlineData(16, null)]
    public void RecipNonce_is_bounded(int length, PkiFailureInfo? expected)
    {
        AssertOutcome(Ir(new RequestOverrides { RecipNonce = RandomNumberGenerator.GetBytes(length) }), expected);
    }

    [Fact]
    public void Missing_senderNonce_is_badSenderNonce()
    {
        PkiHeader header = new PkiHeaderBuilder(2, new GeneralName(new X509Name("CN=a")), new GeneralName(new X509Name("CN=b")))
            .SetTransactionID(RandomNumberGenerator.GetBytes(16))
            .SetProtectionAlg(PasswordBasedMac.NewAlgorithm())
            .Build();

        Assert.Equal(PkiFailureInfo.BadSenderNonce, Refusal(Decode(
            new PkiMessage(header, TestRequests.GenmBody(), new DerBitString(new byte[32])).GetEncoded(Asn1Encodable.Der))));
    }

    [Theory]
    [InlineData(-3600, PkiFailureInfo.BadTime)]
    [InlineData(3600, PkiFailureInfo.BadTime)]
    [InlineData(-601, PkiFailureInfo.BadTime)]
    [InlineData(601, PkiFailureInfo.BadTime)]
    [InlineData(-599, null)]
    [InlineData(599, null)]
    [InlineData(0, null)]
    public void MessageTime_must_be_within_the_window(int offsetSeconds, PkiFailureInfo? expected)
    {
        AssertOutcome(Ir(new RequestOverrides { MessageTime = Now.AddSeconds(offsetSeconds) }), expected);
    }

    [Fact]
    public void Missing_messageTime_passes()
    {
        HeaderValidator.Validate(Ir(new RequestOverrides { OmitMessageTime = true }), Limits, Now);
    }

    [Fact]
    public void Unprotected_request_passes_header_checks_and_is_left_to_the_authentication_modules()
    {
        PkiHeader header = TestRequests.Header().Build();

        HeaderValidator.Validate(Decode(new PkiMessage(header, TestRequests.GenmBody()).GetEncoded(Asn1Encodable.Der)), Limits, Now);
    }

    [Fact]
    public void ProtectionAlg_without_protection_is_badMessageCheck()
    {
        PkiHeader header = TestRequests.Header().SetProtectionAlg(PasswordBasedMac.NewAlgorithm()).Build();

        Assert.Equal(PkiFailureInfo.BadMessageCheck, Refusal(Decode(
            new PkiMessage(header, TestRequests.GenmBody()).GetEncoded(Asn1Encodable.Der))));
    }

    [Theory]
    [InlineData(8, null)]
    [InlineData(9, PkiFailureInfo.BadRequest)]
    public void GeneralInfo_entries_are_bounded(int count, PkiFailureInfo? expected)
    {
        InfoTypeAndValue[] infos = Enumerable.Range(0, count)
            .Select(_ => new InfoTypeAndValue(CmpObjectIdentifiers.it_implicitConfirm, DerNull.Instance)).ToArray();
        PkiHeader header = TestRequests.Header().SetProtectionAlg(PasswordBasedMac.NewAlgorithm()).SetGeneralInfo(infos).Build();

        AssertOutcome(Decode(new PkiMessage(header, TestRequests.GenmBody(), new DerBitString(new byte[32])).GetEncoded(Asn1Encodable.Der)),
            expected);
    }

    [Theory]
    [InlineData(10, null)]
    [InlineData(11, PkiFailureInfo.BadRequest)]
    public void ExtraCerts_are_bounded(int count, PkiFailureInfo? expected)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=extra", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        var cmpCertificate = new CmpCertificate(X509CertificateStructure.GetInstance(certificate.RawData));
        PkiHeader header = TestRequests.Header().SetProtectionAlg(PasswordBasedMac.NewAlgorithm()).Build();
        var message = new PkiMessage(header, TestRequests.GenmBody(), new DerBitString(new byte[32]), Enumerable.Repeat(cmpCertificate, count).ToArray());

        AssertOutcome(Decode(message.GetEncoded(Asn1Encodable.Der)), expected);
    }

    private static void AssertOutcome(DecodedRequest request, PkiFailureInfo? expected)
    {
        if (expected is null)
        {
            HeaderValidator.Validate(request, Limits, Now);
        }
        else
        {
            Assert.Equal(expected, Refusal(request));
        }
    }
}
