namespace CmpCluster.Protocol.Transport;

public enum CmpTcpReadStatus
{
    /// <summary>A complete frame with a valid header.</summary>
    Frame = 0,
    /// <summary>The peer closed the connection between frames.</summary>
    Closed = 1,
    /// <summary>No byte of a next frame within the idle timeout.</summary>
    IdleTimeout = 2,
    /// <summary>A frame started but was not complete within the read timeout.</summary>
    ReadTimeout = 3,
    /// <summary>The peer closed the connection in the middle of a frame.</summary>
    Truncated = 4,
    /// <summary>The header was refused (<see cref="CmpTcpReadResult.Fault"/>); nothing after it was read.</summary>
    Fault = 5,
}

public readonly record struct CmpTcpReadResult(CmpTcpReadStatus Status, CmpTcpFrame Frame, CmpTcpHeaderFault Fault = CmpTcpHeaderFault.None);

/// <summary>
/// Reads one <see cref="CmpTcpFrame"/> from a stream with the transport limits: the idle timeout runs until the first
/// byte of a frame, the read timeout from there to the frame's last byte (a slow sender cannot hold a connection open
/// with a trickle), and the length is checked before the value is allocated. Shared by the gateway and the client.
/// </summary>
public static class CmpTcpFrameReader
{
    public static async Task<CmpTcpReadResult> ReadAsync(
        Stream stream, int maxValueBytes, bool fromClient, TimeSpan idleTimeout, TimeSpan readTimeout, CancellationToken cancel)
    {
        var header = new byte[CmpTcpFrame.HeaderSize];
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(idleTimeout);
        try
        {
            if (await stream.ReadAsync(header.AsMemory(0, 1), deadline.Token) == 0)
            {
                return new(CmpTcpReadStatus.Closed, default);
            }
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return new(CmpTcpReadStatus.IdleTimeout, default);
        }

        deadline.CancelAfter(readTimeout);
        try
        {
            if (!await ReadExactlyAsync(stream, header.AsMemory(1, CmpTcpFrame.LengthFieldSize - 1), deadline.Token))
            {
                return new(CmpTcpReadStatus.Truncated, default);
            }
            CmpTcpHeaderFault fault = CmpTcpFrame.CheckLength(header.AsSpan(0, CmpTcpFrame.LengthFieldSize), maxValueBytes, out int valueLength);
            if (fault != CmpTcpHeaderFault.None)
            {
                return new(CmpTcpReadStatus.Fault, default, fault);
            }
            if (!await ReadExactlyAsync(stream, header.AsMemory(CmpTcpFrame.LengthFieldSize), deadline.Token))
            {
                return new(CmpTcpReadStatus.Truncated, default);
            }
            fault = CmpTcpFrame.CheckHeader(header[4], header[6], fromClient);
            if (fault != CmpTcpHeaderFault.None)
            {
                return new(CmpTcpReadStatus.Fault, new CmpTcpFrame(header[4], header[5], (CmpTcpMessageType)header[6], []), fault);
            }
            var value = new byte[valueLength];
            if (!await ReadExactlyAsync(stream, value, deadline.Token))
            {
                return new(CmpTcpReadStatus.Truncated, default);
            }
            return new(CmpTcpReadStatus.Frame, new CmpTcpFrame(header[4], header[5], (CmpTcpMessageType)header[6], value));
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return new(CmpTcpReadStatus.ReadTimeout, default);
        }
    }

    /// <summary>False when the stream ends first.</summary>
    private static async Task<bool> ReadExactlyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancel)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int read = await stream.ReadAsync(buffer[total..], cancel);
            if (read == 0)
            {
                return false;
            }
            total += read;
        }
        return true;
    }
}
