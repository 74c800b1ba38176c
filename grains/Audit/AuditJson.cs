using System.Buffers;
using System.Text;
using System.Text.Json;

namespace CmpCluster.Grains.Audit;

/// <summary>
/// One record as one JSON object (a line of the JSON Lines export, and the value the Redis store keeps):
/// <c>{"chain","seq","time","type","actor","target","detail","prev","hash"[,"sig"]}</c> with <c>prev</c> and
/// <c>hash</c> in lower-case hex, <c>sig</c> (checkpoints only) in base64 and <c>time</c> as in
/// <see cref="AuditCanonical"/>. <c>hash</c> is a convenience for readers: verifiers recompute it.
/// </summary>
public static class AuditJson
{
    public static string ToLine(AuditRecord record)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("chain", record.ChainId);
            json.WriteNumber("seq", record.Sequence);
            json.WriteString("time", AuditCanonical.FormatTime(record.Time));
            json.WriteString("type", record.Type.ToString());
            json.WriteString("actor", record.Actor);
            json.WriteString("target", record.Target);
            if (record.Detail is null)
            {
                json.WriteNull("detail");
            }
            else
            {
                json.WriteString("detail", record.Detail);
            }
            json.WriteString("prev", Convert.ToHexStringLower(record.PreviousHash));
            json.WriteString("hash", Convert.ToHexStringLower(record.ComputeHash()));
            if (record.Signature is not null)
            {
                json.WriteBase64String("sig", record.Signature);
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>Reads one line; <paramref name="claimedHash"/> is its <c>hash</c> member, if any. Throws <see cref="FormatException"/>.</summary>
    public static AuditRecord Parse(string line, out byte[]? claimedHash)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(line);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("not a JSON object");
            }
            string time = Text(root, "time");
            if (!AuditCanonical.TryParseTime(time, out DateTimeOffset parsedTime))
            {
                throw new FormatException($"time '{time}' is not yyyy-MM-ddTHH:mm:ss.fffffffZ");
            }
            string type = Text(root, "type");
            if (!Enum.TryParse(type, ignoreCase: false, out AuditEventType parsedType) || !Enum.IsDefined(parsedType) || type != parsedType.ToString())
            {
                throw new FormatException($"unknown record type '{type}'");
            }
            JsonElement detail = Member(root, "detail");
            claimedHash = root.TryGetProperty("hash", out JsonElement hash) ? Convert.FromHexString(hash.GetString() ?? "") : null;
            byte[]? signature = root.TryGetProperty("sig", out JsonElement sig) && sig.ValueKind != JsonValueKind.Null ? sig.GetBytesFromBase64() : null;
            return new AuditRecord(
                Text(root, "chain"),
                Member(root, "seq").GetInt64(),
                parsedTime,
                parsedType,
                Text(root, "actor"),
                Text(root, "target"),
                detail.ValueKind == JsonValueKind.Null ? null : detail.GetString(),
                Convert.FromHexString(Text(root, "prev")),
                signature);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
        {
            throw new FormatException(e.Message, e);
        }
    }

    private static JsonElement Member(JsonElement root, string name) =>
        root.TryGetProperty(name, out JsonElement value) ? value : throw new FormatException($"member '{name}' is missing");

    private static string Text(JsonElement root, string name) =>
        Member(root, name).GetString() ?? throw new FormatException($"member '{name}' is null");
}
