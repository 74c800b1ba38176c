using System.Buffers.Binary;
using System.Text;

namespace CmpCluster.Protocol.Transport;

/// <summary>Message types of the TCP framing (draft-ietf-pkix-cmp-transport-protocols-05 §3.5; EJBCA's cmptcp).</summary>
public enum CmpTcpMessageType : byte
{
    /// <summary>Client → server: a DER PKIMessage.</summary>
    PkiReq = 0,
    /// <summary>Transport-level polling (not CMP's pollReq body): not supported here.</summary>
    PollRep = 1,
    PollReq = 2,
    /// <summary>Server → client: nothing to return, the connection closes (value is one 0x00 byte).</summary>
    FinRep = 3,
    /// <summary>Server → client: a DER PKIMessage.</summary>
    PkiRep = 5,
    /// <summary>Server → client: a transport-level error; the connection closes.</summary>
    ErrorMsgRep = 6,
}

/// <summary>Error codes this server puts in an <see cref="CmpTcpMessageType.ErrorMsgRep"/> (see <see cref="CmpTcpFrame"/>).</summary>
public enum CmpTcpError : ushort
{
    VersionNotSupported = 1,
    MessageTypeNotSupported = 2,
    BadMessage = 3,
    MessageTooLarge = 4,
}

/// <summary>Why a frame header was refused.</summary>
public enum CmpTcpHeaderFault
{
    None = 0,
    /// <summary>The length field is below 3 (it must cover version, flags and type).</summary>
    TooShort = 1,
    TooLarge = 2,
    BadVersion = 3,
    BadMessageType = 4,
}

/// <summary>
/// CMP over TCP as EJBCA's cmptcp speaks it: the "version 10" framing of draft-ietf-pkix-cmp-transport-protocols-05 §3
/// (the TCP part that RFC 6712 later dropped), which replaced RFC 2510 §5.2's one-byte-flag framing.
/// <code>
/// offset size  field
///   0     4    length   unsigned, big-endian: octets that follow (3 + value length)
///   4     1    version  10 (RFC 2510's format has a message type 0..6 here, so 10 tells the two apart)
///   5     1    flags    bit 0 (0x01) closeConnection: the sender closes the connection after this message
///   6     1    msgType  0 pkiReq, 1 pollRep, 2 pollReq, 3 finRep, 5 pkiRep, 6 errorMsgRep
///   7     n    value    pkiReq / pkiRep: the DER PKIMessage; finRep: 0x00; errorMsgRep: see below
/// </code>
/// Sources: EJBCA's TcpReceivedMessage / TcpReturnMessage (server: version 10, flag bit 0 = close, pkiRep = 5, finRep = 3
/// with value 0x00, "errorMsgRep should only be used for TCP protocol errors") and CMPSendTCP (client: length = DER + 3,
/// version 10, flags 0, type 0). EJBCA never sends errorMsgRep; ours carries a 16-bit <see cref="CmpTcpError"/> code and
/// a UTF-8 text, and the connection closes after it.
/// </summary>
public readonly record struct CmpTcpFrame(byte Version, byte Flags, CmpTcpMessageType Type, byte[] Value)
{
    public const int LengthFieldSize = 4;
    public const int HeaderSize = 7;
    public const byte Version10 = 10;
    public const byte CloseConnectionFlag = 0x01;

    public bool CloseConnection => (Flags & CloseConnectionFlag) != 0;

    public static CmpTcpFrame Request(byte[] der, bool closeConnection = false) =>
        new(Version10, closeConnection ? CloseConnectionFlag : (byte)0, CmpTcpMessageType.PkiReq, der);

    public static CmpTcpFrame Response(byte[] der, bool closeConnection) =>
        new(Version10, closeConnection ? CloseConnectionFlag : (byte)0, CmpTcpMessageType.PkiRep, der);

    /// <summary>errorMsgRep: code (2 octets, big-endian) then UTF-8 text; always announces the close.</summary>
    public static CmpTcpFrame Error(CmpTcpError code, string text)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var value = new byte[2 + utf8.Length];
        BinaryPrimitives.WriteUInt16BigEndian(value, (ushort)code);
        utf8.CopyTo(value, 2);
        return new(Version10, CloseConnectionFlag, CmpTcpMessageType.ErrorMsgRep, value);
    }

    /// <summary>The error code and text of an errorMsgRep; null for any other type or a value under 2 octets.</summary>
    public (CmpTcpError Code, string Text)? ReadError() =>
        Type == CmpTcpMessageType.ErrorMsgRep && Value.Length >= 2
            ? ((CmpTcpError)BinaryPrimitives.ReadUInt16BigEndian(Value), Encoding.UTF8.GetString(Value, 2, Value.Length - 2))
            : null;

    public byte[] Encode()
    {
        var frame = new byte[HeaderSize + Value.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(Value.Length + 3));
        frame[4] = Version;
        frame[5] = Flags;
        frame[6] = (byte)Type;
        Value.CopyTo(frame, HeaderSize);
        return frame;
    }

    /// <summary>
    /// The value length announced by a length field, checked against <paramref name="maxValueBytes"/> before anything is
    /// allocated. Lengths above int.MaxValue count as too large.
    /// </summary>
    public static CmpTcpHeaderFault CheckLength(ReadOnlySpan<byte> lengthField, int maxValueBytes, out int valueLength)
    {
        uint length = BinaryPrimitives.ReadUInt32BigEndian(lengthField);
        valueLength = 0;
        if (length < 3)
        {
            return CmpTcpHeaderFault.TooShort;
        }
        if (length - 3 > (uint)maxValueBytes)
        {
            return CmpTcpHeaderFault.TooLarge;
        }
        valueLength = (int)(length - 3);
        return CmpTcpHeaderFault.None;
    }

    /// <summary>Version must be 10; a server accepts only pkiReq, a client only finRep, pkiRep and errorMsgRep.</summary>
    public static CmpTcpHeaderFault CheckHeader(byte version, byte type, bool fromClient)
    {
        if (version != Version10)
        {
            return CmpTcpHeaderFault.BadVersion;
        }
        bool known = fromClient
            ? type == (byte)CmpTcpMessageType.PkiReq
            : type is (byte)CmpTcpMessageType.PkiRep or (byte)CmpTcpMessageType.FinRep or (byte)CmpTcpMessageType.ErrorMsgRep;
        return known ? CmpTcpHeaderFault.None : CmpTcpHeaderFault.BadMessageType;
    }
}
