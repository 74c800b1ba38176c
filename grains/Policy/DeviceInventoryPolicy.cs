using CmpCluster.Contracts;
using CmpCluster.Protocol.Policy;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Policy;

/// <summary>
/// The plug-in a 3GPP operator starts with: only devices in the inventory enroll. The inventory is a text file, one entry
/// per line: <c>cn:&lt;common name&gt;</c>, <c>subject:&lt;DN&gt;</c> (RDN order and case ignored), or <c>serial:&lt;hex&gt;</c>
/// (the serial number of the vendor certificate that signed the request, vendor mode); <c>#</c> starts a comment. The file
/// is read again when it changes (checked on each request, by its modification time and length), so an operator adds
/// devices without a restart. A device not listed is refused (<c>notAuthorized</c>), or made to wait where
/// <c>DeferUnknown</c> is set (a rollout whose inventory arrives later: the device polls until it is listed).
/// </summary>
public sealed class DeviceInventoryPolicy(string file, bool deferUnknown) : IEnrollmentPolicy
{
    private sealed record Inventory(DateTime Modified, long Length, HashSet<string> CommonNames, List<X509Name> Subjects, HashSet<string> Serials);

    private Inventory? _inventory;

    public Task<PolicyVerdict> EvaluateAsync(EnrollmentContext context, CancellationToken cancellationToken)
    {
        Inventory inventory = Current();
        bool listed = context.Subject.GetValueList(X509Name.CN).Any(cn => inventory.CommonNames.Contains(cn))
            || inventory.Subjects.Any(subject => subject.Equivalent(context.Subject, inOrder: false))
            || (context.VendorCertificateSerial is { } serial && inventory.Serials.Contains(Normalize(serial)));
        return Task.FromResult(listed ? PolicyVerdict.Allow
            : deferUnknown ? PolicyVerdict.Defer("the device is not in the inventory yet")
            : PolicyVerdict.Refuse(PkiFailureInfo.NotAuthorized, "the device is not in the inventory"));
    }

    /// <summary>The inventory as the file says now; reread only when the file changed.</summary>
    private Inventory Current()
    {
        var info = new FileInfo(file);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"the device inventory '{file}' does not exist");
        }
        Inventory? held = Volatile.Read(ref _inventory);
        if (held is not null && held.Modified == info.LastWriteTimeUtc && held.Length == info.Length)
        {
            return held;
        }
        var read = new Inventory(info.LastWriteTimeUtc, info.Length, new(StringComparer.Ordinal), [], new(StringComparer.OrdinalIgnoreCase));
        foreach (string raw in File.ReadLines(file))
        {
            string line = raw.Trim();
            int colon = line.IndexOf(':');
            if (line.Length == 0 || line.StartsWith('#') || colon < 0)
            {
                continue;
            }
            string value = line[(colon + 1)..].Trim();
            switch (line[..colon].Trim().ToLowerInvariant())
            {
                case "cn":
                    read.CommonNames.Add(value);
                    break;
                case "subject":
                    read.Subjects.Add(new X509Name(value));
                    break;
                case "serial":
                    read.Serials.Add(Normalize(value));
                    break;
            }
        }
        Volatile.Write(ref _inventory, read);
        return read;
    }

    private static string Normalize(string hex) => hex.Replace(":", "", StringComparison.Ordinal).TrimStart('0').ToUpperInvariant();
}
