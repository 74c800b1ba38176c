using CmpCluster.Protocol.Client;
using CmpCluster.Protocol.Envelope;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Cmp;
using Xunit;

namespace CmpCluster.Tests.Protocol;

/// <summary>Structural checks on untrusted bytes before any parser sees them, and routing without decoding.</summary>
public sealed class DerEnvelopeTests
{
    private const int MaxDepth = 48;

    /// <summary><paramref name="depth"/> SEQUENCEs, the innermost holding an INTEGER so that every level has content.</summary>
    private static byte[] Nested(int depth)
    {
        Asn1Encodable inner = DerInteger.ValueOf(7);
        for (int i = 0; i < depth; i++)
        {
            inner = new DerSequence(inner);
        }
        return inner.GetEncoded(Asn1Encodable.Der);
    }

    [Fact]
    public void A_real_ir_passes()
    {
        Assert.Equal(EnvelopeFault.None, DerEnvelope.Check(TestRequests.Ir(), MaxDepth));
    }

    [Theory]
    [InlineData(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF })]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0x30 })]
    [InlineData(new byte[] { 0x30, 0x05, 0x02, 0x01 })] // length runs past the end
    [InlineData(new byte[] { 0x02, 0x01, 0x05 })] // DER, but an INTEGER, not a SEQUENCE
    [InlineData(new byte[] { 0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00 })] // BER indefinite length
    [InlineData(new byte[] { 0x30, 0x81, 0x03, 0x02, 0x01, 0x05 })] // non-minimal length
    public void Garbage_is_not_DER(byte[] bytes)
    {
        Assert.Equal(EnvelopeFault.NotDer, DerEnvelope.Check(bytes, MaxDepth));
    }

    [Fact]
    public void Random_bytes_never_throw_and_are_NotDer_unless_they_start_like_a_SEQUENCE()
    {
        var random = new Random(20240611);
        for (int i = 0; i < 5000; i++)
        {
            byte[] bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            EnvelopeFault fault = DerEnvelope.Check(bytes, MaxDepth);
            if (bytes.Length == 0 || bytes[0] != 0x30)
            {
                Assert.Equal(EnvelopeFault.NotDer, fault);
            }
        }
    }

    [Fact]
    public void Valid_message_followed_by_one_byte_has_trailing_bytes()
    {
        byte[] ir = TestRequests.Ir();

        Assert.Equal(EnvelopeFault.TrailingBytes, DerEnvelope.Check([.. ir, 0x00], MaxDepth));
    }

    [Fact]
    public void Hundred_nested_sequences_are_too_deep()
    {
        Assert.Equal(EnvelopeFault.TooDeep, DerEnvelope.Check(Nested(100), MaxDepth));
    }

    [Theory]
    [InlineData(MaxDepth, EnvelopeFault.None)]
    [InlineData(MaxDepth + 1, EnvelopeFault.TooDeep)]
    public void Depth_limit_counts_every_constructed_level(int depth, EnvelopeFault expected)
    {
        Assert.Equal(expected, DerEnvelope.Check(Nested(depth), MaxDepth));
    }

    [Fact]
    public void A_child_running_past_its_parent_is_not_DER()
    {
        byte[] bytes = [0x30, 0x06, 0x30, 0x02, 0x04, 0x02, 0xAA, 0xBB];

        Assert.Equal(EnvelopeFault.NotDer, DerEnvelope.Check(bytes, MaxDepth));
    }

    [Fact]
    public void TryReadTransactionId_finds_the_sessions_transactionID()
    {
        CmpClientSession session = TestRequests.Session();

        Assert.Equal(session.TransactionId, DerEnvelope.TryReadTransactionId(TestRequests.Ir(session)));
    }

    [Fact]
    public void TryReadTransactionId_is_null_without_a_transactionID()
    {
        PkiHeader header = new PkiHeaderBuilder(2,
            new Org.BouncyCastle.Asn1.X509.GeneralName(new Org.BouncyCastle.Asn1.X509.X509Name("CN=a")),
            new Org.BouncyCastle.Asn1.X509.GeneralName(new Org.BouncyCastle.Asn1.X509.X509Name("CN=b")))
            .SetSenderNonce(new byte[16])
            .Build();
        byte[] der = new PkiMessage(header, TestRequests.GenmBody()).GetEncoded(Asn1Encodable.Der);

        Assert.Null(DerEnvelope.TryReadTransactionId(der));
    }

    [Theory]
    [InlineData(new byte[] { 0x30, 0x03, 0x02, 0x01, 0x05 })]
    [InlineData(new byte[] { 0x30, 0x00 })]
    [InlineData(new byte[] { 0xDE, 0xAD })]
    public void TryReadTransactionId_is_null_for_what_is_not_a_PKIMessage(byte[] bytes)
    {
        Assert.Null(DerEnvelope.TryReadTransactionId(bytes));
    }

    [Fact]
    public void ProtectedPart_is_the_received_header_and_body()
    {
        byte[] ir = TestRequests.Ir();
        var message = PkiMessage.GetInstance(Asn1Object.FromByteArray(ir));

        Assert.Equal(new ProtectedPart(message.Header, message.Body).GetEncoded(Asn1Encodable.Der), DerEnvelope.ProtectedPart(ir));
    }
}
