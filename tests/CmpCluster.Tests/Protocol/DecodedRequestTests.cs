using CmpCluster.Protocol;
using CmpCluster.Protocol.Client;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Envelope;
using CmpCluster.Protocol.Messages;
using CmpCluster.Protocol.Validation;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Protocol;

/// <summary>Decoding within limits: anything that is not a PKIMessage is badRequest (EJBCA's CMP error table), never another exception.</summary>
public sealed class DecodedRequestTests
{
    private static readonly CmpLimits Limits = new();

    [Fact]
    public void A_real_ir_is_decoded_with_its_header_fields()
    {
        CmpClientSession session = TestRequests.Session();
        byte[] der = session.BuildEnrollment(initial: true, new Org.BouncyCastle.Asn1.X509.X509Name("CN=decoded"),
            System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256), implicitConfirm: true);

        DecodedRequest request = DecodedRequest.Decode(der, Limits);

        Assert.Equal(PkiBodyType.Ir, request.BodyType);
        Assert.Equal(2, request.Pvno);
        Assert.Equal(session.TransactionId, request.TransactionId);
        Assert.Equal(session.LastSenderNonce, request.SenderNonce);
        Assert.Null(request.RecipNonce);
        Assert.Equal("ra-test"u8.ToArray(), request.SenderKid);
        Assert.True(request.ImplicitConfirmRequested);
        Assert.Equal(DerEnvelope.ProtectedPart(der), request.ProtectedPart());
    }

    public static TheoryData<string, byte[]> NotPkiMessages => new()
    {
        { "SEQUENCE { INTEGER }", new DerSequence(DerInteger.ValueOf(5)).GetEncoded(Asn1Encodable.Der) },
        { "empty SEQUENCE", new DerSequence().GetEncoded(Asn1Encodable.Der) },
        { "SEQUENCE { SEQUENCE {}, SEQUENCE {} }", new DerSequence(new DerSequence(), new DerSequence()).GetEncoded(Asn1Encodable.Der) },
        { "five INTEGERs", new DerSequence(Enumerable.Range(0, 5).Select(i => (Asn1Encodable)DerInteger.ValueOf(i)).ToArray()).GetEncoded(Asn1Encodable.Der) },
        { "header then an untagged body", new DerSequence(Header(), DerInteger.ValueOf(1)).GetEncoded(Asn1Encodable.Der) },
        { "body tag [27] that RFC 9810 does not define", new DerSequence(Header(), new DerTaggedObject(true, 27, DerNull.Instance)).GetEncoded(Asn1Encodable.Der) },
        { "ir body holding an INTEGER", new DerSequence(Header(), new DerTaggedObject(true, 0, DerInteger.ValueOf(1))).GetEncoded(Asn1Encodable.Der) },
        { "header of two fields", new DerSequence(new DerSequence(DerInteger.ValueOf(2), DerInteger.ValueOf(3)), Genm()).GetEncoded(Asn1Encodable.Der) },
        { "protection that is not a BIT STRING", new DerSequence(Header(), Genm(), new DerTaggedObject(true, 0, DerInteger.ValueOf(1))).GetEncoded(Asn1Encodable.Der) },
    };

    private static Asn1Encodable Header() => TestRequests.Header().Build();

    private static Asn1Encodable Genm() => TestRequests.GenmBody();

    [Theory]
    [MemberData(nameof(NotPkiMessages))]
    public void A_DER_SEQUENCE_that_is_not_a_PKIMessage_is_badRequest(string shape, byte[] der)
    {
        Assert.Equal(EnvelopeFault.None, DerEnvelope.Check(der, Limits.MaxDerDepth));

        var e = Assert.Throws<CmpFailureException>(() => DecodedRequest.Decode(der, Limits));

        Assert.True(e.Failure.FailInfo == PkiFailureInfo.BadRequest, shape);
    }

    [Theory]
    [InlineData(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF })]
    [InlineData(new byte[] { 0x30, 0x03, 0x02, 0x01, 0x05, 0x00 })]
    public void Envelope_faults_are_badRequest(byte[] der)
    {
        var e = Assert.Throws<CmpFailureException>(() => DecodedRequest.Decode(der, Limits));

        Assert.Equal(PkiFailureInfo.BadRequest, e.Failure.FailInfo);
    }

    [Fact]
    public void A_child_running_past_its_parent_is_badRequest()
    {
        // DerEnvelope.Check lets this through (see DerEnvelopeTests); the PKIMessage parser must still refuse it cleanly.
        byte[] der = [0x30, 0x06, 0x30, 0x02, 0x04, 0x02, 0xAA, 0xBB];

        var e = Assert.Throws<CmpFailureException>(() => DecodedRequest.Decode(der, Limits));

        Assert.Equal(PkiFailureInfo.BadRequest, e.Failure.FailInfo);
    }

    [Fact]
    public void Too_deep_is_badRequest()
    {
        Asn1Encodable nested = DerInteger.ValueOf(1);
        for (int i = 0; i < 60; i++)
        {
            nested = new DerSequence(nested);
        }

        var e = Assert.Throws<CmpFailureException>(() => DecodedRequest.Decode(nested.GetEncoded(Asn1Encodable.Der), Limits));

        Assert.Equal(PkiFailureInfo.BadRequest, e.Failure.FailInfo);
    }

    /// <summary>
    /// Flipping bytes of a real ir: whatever passes the envelope check either decodes or is refused with a
    /// CmpFailure; a stray exception would reach the client as systemFailure instead of the rule it broke.
    /// </summary>
    [Fact]
    public void Mutated_requests_are_decoded_or_refused_with_a_CmpFailure_never_another_exception()
    {
        byte[] original = TestRequests.Ir();
        var random = new Random(4210);
        var stray = new List<string>();
        int reachedParser = 0;
        for (int i = 0; i < 4000; i++)
        {
            byte[] der = (byte[])original.Clone();
            int flips = random.Next(1, 4);
            for (int f = 0; f < flips; f++)
            {
                der[random.Next(der.Length)] = (byte)random.Next(256);
            }
            if (DerEnvelope.Check(der, Limits.MaxDerDepth) == EnvelopeFault.None)
            {
                reachedParser++;
            }
            try
            {
                DecodedRequest request = DecodedRequest.Decode(der, Limits);
                HeaderValidator.Validate(request, Limits, DateTimeOffset.UtcNow);
                _ = ResponseContext.For(request);
            }
            catch (CmpFailureException)
            {
            }
            catch (Exception e)
            {
                stray.Add($"{e.GetType().Name}: {e.Message} in {Convert.ToHexString(der)}");
            }
        }

        Assert.Empty(stray.Take(3));
        Assert.True(reachedParser > 100, $"only {reachedParser} mutations got past the envelope check");
    }
}
