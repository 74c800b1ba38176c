using System.Buffers.Binary;
using System.IO.Pipelines;
using CmpCluster.Protocol.Transport;
using Xunit;

namespace CmpCluster.Tests.Tcp;

/// <summary>The cmptcp framing (EJBCA's TcpReceivedMessage / TcpReturnMessage / CMPSendTCP; draft-ietf-pkix-cmp-transport-protocols-05 §3).</summary>
public sealed class CmpTcpFramingTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private static readonly byte[] Der = [0x30, 0x03, 0x02, 0x01, 0x05];

    [Fact]
    public void PkiReq_is_length_version_flags_type_then_the_der_as_EJBCA_sends_it()
    {
        byte[] frame = CmpTcpFrame.Request(Der).Encode();

        Assert.Equal([0, 0, 0, 8, 10, 0, 0, .. Der], frame);
    }

    [Fact]
    public void CloseConnection_is_bit_0_of_flags()
    {
        byte[] frame = CmpTcpFrame.Response(Der, closeConnection: true).Encode();

        Assert.Equal(0x01, frame[5]);
        Assert.Equal((byte)CmpTcpMessageType.PkiRep, frame[6]);
    }

    [Fact]
    public async Task A_frame_round_trips()
    {
        CmpTcpReadResult read = await ReadAsync(CmpTcpFrame.Response(Der, closeConnection: false).Encode(), fromClient: false);

        Assert.Equal(CmpTcpReadStatus.Frame, read.Status);
        Assert.Equal(CmpTcpFrame.Version10, read.Frame.Version);
        Assert.Equal(CmpTcpMessageType.PkiRep, read.Frame.Type);
        Assert.False(read.Frame.CloseConnection);
        Assert.Equal(Der, read.Frame.Value);
    }

    [Fact]
    public async Task Two_frames_on_one_stream_are_read_one_after_the_other()
    {
        byte[] second = [0x30, 0x00];
        var stream = new MemoryStream([.. CmpTcpFrame.Request(Der).Encode(), .. CmpTcpFrame.Request(second, closeConnection: true).Encode()]);

        CmpTcpReadResult a = await CmpTcpFrameReader.ReadAsync(stream, 1024, true, Long, Long, default);
        CmpTcpReadResult b = await CmpTcpFrameReader.ReadAsync(stream, 1024, true, Long, Long, default);
        CmpTcpReadResult end = await CmpTcpFrameReader.ReadAsync(stream, 1024, true, Long, Long, default);

        Assert.Equal(Der, a.Frame.Value);
        Assert.Equal(second, b.Frame.Value);
        Assert.True(b.Frame.CloseConnection);
        Assert.Equal(CmpTcpReadStatus.Closed, end.Status);
    }

    [Theory]
    [InlineData(1024u + 3 + 1)]
    [InlineData(0x7FFF_FFFFu)]
    [InlineData(0xFFFF_FFFFu)]
    public async Task A_length_above_the_limit_is_refused_before_the_value_is_read(uint lengthField)
    {
        var bytes = new byte[64];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, lengthField);
        var stream = new MemoryStream(bytes);

        CmpTcpReadResult read = await CmpTcpFrameReader.ReadAsync(stream, 1024, true, Long, Long, default);

        Assert.Equal(CmpTcpReadStatus.Fault, read.Status);
        Assert.Equal(CmpTcpHeaderFault.TooLarge, read.Fault);
        // Nothing past the length field was read (so nothing of the announced size was allocated).
        Assert.Equal(CmpTcpFrame.LengthFieldSize, stream.Position);
    }

    [Fact]
    public async Task A_value_of_exactly_the_limit_is_accepted()
    {
        var value = new byte[1024];

        CmpTcpReadResult read = await ReadAsync(CmpTcpFrame.Request(value).Encode(), fromClient: true, max: 1024);

        Assert.Equal(CmpTcpReadStatus.Frame, read.Status);
        Assert.Equal(1024, read.Frame.Value.Length);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(2u)]
    public async Task A_length_that_does_not_cover_the_header_is_refused(uint length)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, length);

        CmpTcpReadResult read = await ReadAsync(bytes, fromClient: true);

        Assert.Equal(CmpTcpHeaderFault.TooShort, read.Fault);
    }

    [Fact]
    public async Task A_truncated_frame_is_reported_as_truncated()
    {
        byte[] frame = CmpTcpFrame.Request(new byte[100]).Encode();

        CmpTcpReadResult read = await ReadAsync(frame[..50], fromClient: true);

        Assert.Equal(CmpTcpReadStatus.Truncated, read.Status);
    }

    [Fact]
    public async Task A_truncated_length_field_is_reported_as_truncated()
    {
        CmpTcpReadResult read = await ReadAsync([0, 0], fromClient: true);

        Assert.Equal(CmpTcpReadStatus.Truncated, read.Status);
    }

    [Theory]
    [InlineData(0)]   // RFC 2510 §5.2's own framing: the fifth octet is the message type (0 pkiMsg)
    [InlineData(1)]
    [InlineData(9)]
    [InlineData(11)]
    public async Task Any_version_but_10_is_refused(byte version)
    {
        byte[] frame = CmpTcpFrame.Request(Der).Encode();
        frame[4] = version;

        CmpTcpReadResult read = await ReadAsync(frame, fromClient: true);

        Assert.Equal(CmpTcpHeaderFault.BadVersion, read.Fault);
        Assert.Equal(version, read.Frame.Version);
    }

    [Theory]
    [InlineData(CmpTcpMessageType.PollReq)]
    [InlineData(CmpTcpMessageType.PkiRep)]
    [InlineData(CmpTcpMessageType.ErrorMsgRep)]
    public async Task A_server_accepts_only_pkiReq(CmpTcpMessageType type)
    {
        var frame = new CmpTcpFrame(CmpTcpFrame.Version10, 0, type, Der);

        CmpTcpReadResult read = await ReadAsync(frame.Encode(), fromClient: true);

        Assert.Equal(CmpTcpHeaderFault.BadMessageType, read.Fault);
    }

    [Fact]
    public async Task ErrorMsgRep_carries_a_code_and_a_text_and_announces_the_close()
    {
        CmpTcpReadResult read = await ReadAsync(CmpTcpFrame.Error(CmpTcpError.MessageTooLarge, "message too large").Encode(), fromClient: false);

        Assert.Equal(CmpTcpMessageType.ErrorMsgRep, read.Frame.Type);
        Assert.True(read.Frame.CloseConnection);
        Assert.Equal((CmpTcpError.MessageTooLarge, "message too large"), read.Frame.ReadError());
    }

    [Fact]
    public async Task No_first_byte_within_the_idle_timeout_is_an_idle_timeout()
    {
        var pipe = new Pipe();

        CmpTcpReadResult read = await CmpTcpFrameReader.ReadAsync(
            pipe.Reader.AsStream(), 1024, true, TimeSpan.FromMilliseconds(100), Long, default);

        Assert.Equal(CmpTcpReadStatus.IdleTimeout, read.Status);
    }

    [Fact]
    public async Task A_frame_that_stalls_after_its_first_bytes_is_a_read_timeout()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(CmpTcpFrame.Request(Der).Encode().AsMemory(0, 6));

        CmpTcpReadResult read = await CmpTcpFrameReader.ReadAsync(
            pipe.Reader.AsStream(), 1024, true, Long, TimeSpan.FromMilliseconds(100), default);

        Assert.Equal(CmpTcpReadStatus.ReadTimeout, read.Status);
    }

    private static Task<CmpTcpReadResult> ReadAsync(byte[] bytes, bool fromClient, int max = 1024) =>
        CmpTcpFrameReader.ReadAsync(new MemoryStream(bytes), max, fromClient, Long, Long, default);
}
