using System.Buffers;
using Orleans.Serialization;
using Orleans.Storage;

namespace CmpCluster.Silo.Storage;

/// <summary>
/// Grain state to bytes with the Orleans serializer, like Orleans' own <see cref="OrleansGrainStorageSerializer"/> (the
/// same bytes, so either reads what the other wrote), but without its garbage: that one serializes into a new buffer
/// that starts at 256 bytes and doubles (a 1.4 KB transaction state leaves four discarded arrays), and the store then
/// copies the written part once more. Here each thread reuses one buffer and the state leaves as a single array of
/// exactly its size, which the stores bind as it is.
/// </summary>
public sealed class PooledGrainStorageSerializer(Serializer serializer) : IGrainStorageSerializer
{
    /// <summary>A buffer that grew past this (a state of unusual size) is not kept for the next write.</summary>
    private const int MaxRetainedBytes = 64 * 1024;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? _buffer;

    public BinaryData Serialize<T>(T? input)
    {
        // Serialization is synchronous: nothing else runs on this thread between the reset and the copy.
        ArrayBufferWriter<byte> buffer = _buffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        serializer.Serialize(input, buffer);
        byte[] exact = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > MaxRetainedBytes)
        {
            _buffer = null;
        }
        return new BinaryData(exact);
    }

    public T? Deserialize<T>(BinaryData input) => serializer.Deserialize<T>(input.ToMemory());
}
