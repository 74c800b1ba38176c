using CmpCluster.Contracts;
using CmpCluster.Grains.Pki;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CmpCluster.Grains.Revocation;

[GenerateSerializer]
[Alias("CmpCluster.CertificateAuthorityState")]
public sealed class CertificateAuthorityState
{
    /// <summary>The number of the last CRL issued (RFC 5280 §5.2.3); 0 before the first.</summary>
    [Id(0)] public long CrlNumber { get; set; }

    /// <summary>
    /// Serials not settled in <see cref="Revoked"/>: a certificate grain announced a change (write-ahead) whose entry has
    /// not arrived, because it is in flight or a crash lost it. The next CRL reads each of these certificates once and
    /// settles it. The previous version kept every serial ever revoked here: after an upgrade the first CRL reads them once.
    /// </summary>
    [Id(1)] public HashSet<string> TrackedSerials { get; set; } = [];

    /// <summary>A revocation changed since the last CRL: the next check issues one even before renewal is due.</summary>
    [Id(2)] public bool Dirty { get; set; }

    // Ids 3 to 6: where the previous version kept the current CRL. Read after an upgrade until the first CRL of this
    // version is published (in PublishedCrl, so revocations no longer rewrite the CRL's bytes), then cleared.
    [Id(3)] public byte[]? CrlDer { get; set; }
    [Id(4)] public DateTimeOffset ThisUpdate { get; set; }
    [Id(5)] public DateTimeOffset NextUpdate { get; set; }
    [Id(6)] public int RevokedCount { get; set; }

    /// <summary>
    /// Where the previous version kept the revoked list, rewritten by every revocation. Moved into <see cref="RevokedList"/>
    /// at activation, then cleared.
    /// </summary>
    [Id(7)] public Dictionary<string, RevokedEntry> Revoked { get; set; } = new();
}

/// <summary>
/// The revoked certificates that are on the CRL, by serial (grain-key hex): each CRL is built from this alone. Stored apart
/// from the marks (<see cref="CertificateAuthorityState"/>), which every revocation writes, and written only when a CRL is
/// built: a revocation costs a write of the small marks, not of the whole list.
/// </summary>
[GenerateSerializer]
[Alias("CmpCluster.RevokedList")]
public sealed class RevokedList
{
    [Id(0)] public Dictionary<string, RevokedEntry> Entries { get; set; } = new();
}

/// <summary>
/// The current CRL, stored apart from the revocation list, which every revocation writes; with the CRLs of the CA's retired
/// keys, issued together with it (same number, same entries), each signed by its key.
/// </summary>
[GenerateSerializer]
[Alias("CmpCluster.PublishedCrl")]
public sealed class PublishedCrl
{
    [Id(0)] public CrlInfo? Current { get; set; }

    /// <summary>The generation of the CA key that signed <see cref="Current"/> (<see cref="CrlNames"/>); 0 before any
    /// renewal with a new key, as for a CRL stored by a version without them.</summary>
    [Id(1)] public int KeyGeneration { get; set; }

    /// <summary>The CRLs signed by the CA's retired keys, by key generation.</summary>
    [Id(2)] public Dictionary<int, CrlInfo> Retired { get; set; } = new();
}

/// <summary>
/// One CA's CRL publishing. Every CRL is built from the CA's own compact list of revoked certificates, which the
/// certificate grains keep current (a write-ahead mark, then the entry). A mark stays durable until the list holding its
/// entry is: entries arrive in memory, the list is written when a CRL is built, and only then do their marks go. A CRL reads
/// a certificate grain only for a mark without its entry in memory: a revocation in flight while the CRL is built, one
/// whose entry a crash lost, or (once, after an upgrade) a serial the previous version tracked. Issuance is debounced after revocations (a grain timer) and guaranteed by a
/// durable reminder (renewal before nextUpdate, and revocations whose timer a crash lost: the dirty flag is persisted first).
/// </summary>
/// <remarks>
/// <see cref="ICertificateAuthorityGrain.TrackRevocationAsync"/> and <see cref="ICertificateAuthorityGrain.RevocationWrittenAsync"/>
/// interleave (a certificate grain calls them while this grain may be reading that same certificate for a CRL: without
/// interleaving the two would wait on each other). Every state write therefore goes through one gate, and a change that
/// arrives while a CRL is being built keeps the dirty flag set, so the next CRL has it.
/// </remarks>
public sealed partial class CertificateAuthorityGrain(
    [PersistentState("ca", GrainNames.Storage)] IPersistentState<CertificateAuthorityState> state,
    [PersistentState("crl", GrainNames.Storage)] IPersistentState<PublishedCrl> published,
    [PersistentState("revoked", GrainNames.Storage)] IPersistentState<RevokedList> revoked,
    PkiKeyRing keys,
    IOptionsMonitor<PkiOptions> options,
    TimeProvider time,
    ILogger<CertificateAuthorityGrain> logger) : Grain, ICertificateAuthorityGrain, IRemindable
{
    private const string RenewReminder = "crl-renew";
    private const int ReadBatch = 64;

    private readonly SemaphoreSlim _writeGate = new(1, 1);
    /// <summary>Revocation changes announced to this activation (a CRL built meanwhile may lack them: it stays dirty).</summary>
    private long _changes;
    /// <summary>Changes made to the state in memory, and how many of them the last successful write covered.</summary>
    private long _version;
    private long _durable;
    /// <summary>While a CRL reads certificates: serials announced again meanwhile, whose read may be stale.</summary>
    private HashSet<string>? _trackedDuringRead;
    /// <summary>
    /// Marked serials whose entry is settled in memory but not yet in a written <see cref="RevokedList"/>, each with the
    /// number of its settlement: once a list write that started after it succeeds, the mark may go.
    /// </summary>
    private readonly Dictionary<string, long> _settled = new();
    private long _settlements;
    private IGrainTimer? _debounce;

    private string CaName => this.GetPrimaryKeyString();

    private CertificateAuthorityState State => state.State;

    private Dictionary<string, RevokedEntry> Revoked => revoked.State.Entries;

    /// <summary>
    /// The current CRL signed by the CA key of <paramref name="generation"/>: the published one, or for the first key the one
    /// the previous version stored in the CA state. Null when none is published for that key (a key renewed since).
    /// </summary>
    private CrlInfo? Published(int generation) => generation == published.State.KeyGeneration
        ? published.State.Current ?? (generation == 0 && State.CrlDer is { } der
            ? new CrlInfo(der, State.CrlNumber, State.ThisUpdate, State.NextUpdate, State.RevokedCount)
            : null)
        : published.State.Retired.GetValueOrDefault(generation);

    public async Task TrackRevocationAsync(string serialHex)
    {
        _changes++;
        _trackedDuringRead?.Add(serialHex);
        // Announced again: whatever was settled for it may be superseded; the mark stays until its new entry is written.
        _settled.Remove(serialHex);
        if (!State.TrackedSerials.Contains(serialHex) || !State.Dirty)
        {
            State.TrackedSerials.Add(serialHex);
            State.Dirty = true;
            _version++;
        }
        // Returns once the mark is durable, also when an earlier write carries it and is still in flight.
        await PersistAsync();
    }

    public async Task RevocationWrittenAsync(string serialHex, RevokedEntry? entry)
    {
        _changes++;
        Settle(serialHex, entry);
        // Not written now: until the next write the durable mark stands for it, and a crash costs one read at the next CRL.
        await ChangedAsync();
    }

    public async Task RevocationChangedAsync(string serialHex)
    {
        _changes++;
        await ChangedAsync();
    }

    private async Task ChangedAsync()
    {
        if (!State.Dirty)
        {
            State.Dirty = true; // a CRL issued since TrackRevocation cleared it; the reminder must still see it
            _version++;
            await PersistAsync();
        }
        // The first change of a burst starts the timer; later ones ride along, so a CRL follows within Debounce.
        _debounce ??= this.RegisterGrainTimer(async _ =>
        {
            _debounce?.Dispose();
            _debounce = null;
            if (State.Dirty)
            {
                await IssueAsync("revocation");
            }
        }, new GrainTimerCreationOptions(options.CurrentValue.CrlOf(CaName).Debounce, Timeout.InfiniteTimeSpan));
    }

    /// <summary>
    /// Idempotent: the serial's entry becomes <paramref name="entry"/> (or leaves the list) in memory, and its mark goes
    /// once a list with it is written. An entry equal to the one held keeps its mark of having been listed after expiry.
    /// </summary>
    private void Settle(string serialHex, RevokedEntry? entry)
    {
        if (entry is { } listed)
        {
            if (!Revoked.TryGetValue(serialHex, out RevokedEntry held) || held with { ListedAfterExpiry = false } != listed with { ListedAfterExpiry = false })
            {
                Revoked[serialHex] = listed;
            }
        }
        else
        {
            Revoked.Remove(serialHex);
        }
        if (State.TrackedSerials.Contains(serialHex))
        {
            _settled[serialHex] = ++_settlements;
        }
    }

    public async Task<CrlInfo> GetCrlAsync() => await GetCrlAsync(keys.FindAuthority(CaName)?.KeyGeneration ?? 0)
        ?? throw new InvalidOperationException($"no CA '{CaName}' in this silo's key ring");

    public async Task<CrlInfo?> GetCrlAsync(int keyGeneration)
    {
        if (keys.FindAuthority(CaName)?.KeyOf(keyGeneration) is null)
        {
            return null;
        }
        CrlInfo? current = Published(keyGeneration);
        if (current is null || time.GetUtcNow() >= current.NextUpdate)
        {
            await IssueAsync(current is null ? "first" : "expired");
            current = Published(keyGeneration);
        }
        return current;
    }

    public Task<CrlInfo> IssueCrlAsync() => IssueAsync("requested");

    /// <summary>
    /// The durable schedule that renews the CRL before nextUpdate is registered (or updated to the configured period) at
    /// every activation; the silo activates every CA of its key ring at start (<see cref="RevocationStartup"/>).
    /// </summary>
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (State.Revoked.Count > 0)
        {
            // The previous version's list, inside the marks: moved, written, then cleared (a crash between leaves both).
            foreach ((string serial, RevokedEntry entry) in State.Revoked)
            {
                Revoked.TryAdd(serial, entry);
            }
            await revoked.WriteStateAsync();
            State.Revoked = new();
            _version++;
            await PersistAsync();
        }
        TimeSpan period = options.CurrentValue.CrlOf(CaName).CheckPeriod;
        await this.RegisterOrUpdateReminder(RenewReminder, period, period);
        await base.OnActivateAsync(cancellationToken);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != RenewReminder)
        {
            return;
        }
        CrlOptions crl = options.CurrentValue.CrlOf(CaName);
        CertificateAuthorityKeys? ca = keys.FindAuthority(CaName);
        // A key without a CRL yet (the first start, or the first after a renewal with a new key) counts as none.
        if (Published(ca?.KeyGeneration ?? 0) is not { } current || ca?.Retired.Any(r => Published(r.Generation) is null) == true)
        {
            await IssueAsync("first");
        }
        else if (State.Dirty)
        {
            await IssueAsync("revocation");
        }
        else if (time.GetUtcNow() >= current.NextUpdate - crl.RenewBefore)
        {
            await IssueAsync("renewal");
        }
    }

    /// <summary>
    /// Settles unsettled serials, signs the CRL from the list and stores it with its number before anyone sees it. Each
    /// retired key signs a CRL of its own with the same number and entries (the CA's whole list: serials are unique per
    /// CA, so the entries of another key's certificates match none of this key's), published with it: the CRL a
    /// certificate's distribution point names is signed by the key that signed the certificate (RFC 5280 §5, §6.3.3).
    /// </summary>
    private async Task<CrlInfo> IssueAsync(string cause)
    {
        CertificateAuthorityKeys ca = keys.FindAuthority(CaName)
            ?? throw new InvalidOperationException($"no CA '{CaName}' in this silo's key ring");
        long changesBefore = _changes;
        int read = await SettleTrackedAsync();

        DateTimeOffset thisUpdate = new(CrlBuilder.WholeSeconds(time.GetUtcNow()));
        DateTimeOffset nextUpdate = thisUpdate + options.CurrentValue.CrlOf(CaName).Validity;
        (List<CrlEntry> entries, List<KeyValuePair<string, RevokedEntry>> expiring, int dropped) = ListFor(thisUpdate);
        // RFC 5280 §5.2.3: strictly increasing. The published CRL carries its number and is written first: a crash before
        // the CA state follows leaves the CA dirty, and the next CRL takes the number after both.
        long number = Math.Max(State.CrlNumber, published.State.Current?.Number ?? 0) + 1;
        byte[] der = CrlBuilder.Build(ca.Ca, number, thisUpdate, nextUpdate, entries);
        var crl = new CrlInfo(der, number, thisUpdate, nextUpdate, entries.Count);
        Dictionary<int, CrlInfo> retired = ca.Retired.ToDictionary(r => r.Generation,
            r => new CrlInfo(CrlBuilder.Build(r.Ca, number, thisUpdate, nextUpdate, entries), number, thisUpdate, nextUpdate, entries.Count));
        (CrlInfo? previous, int previousGeneration, Dictionary<int, CrlInfo> previousRetired) =
            (published.State.Current, published.State.KeyGeneration, published.State.Retired);
        (published.State.Current, published.State.KeyGeneration, published.State.Retired) = (crl, ca.KeyGeneration, retired);
        try
        {
            await published.WriteStateAsync();
        }
        catch
        {
            // Never served unless stored with their number.
            (published.State.Current, published.State.KeyGeneration, published.State.Retired) = (previous, previousGeneration, previousRetired);
            throw;
        }

        // Listed now on a CRL issued after their notAfter: the next CRL may leave them out (RFC 5280 §3.3).
        foreach ((string serial, RevokedEntry entry) in expiring)
        {
            if (Revoked.TryGetValue(serial, out RevokedEntry held) && held == entry)
            {
                Revoked[serial] = entry with { ListedAfterExpiry = true };
            }
        }
        await WriteListAsync();
        State.CrlNumber = number;
        (State.CrlDer, State.ThisUpdate, State.NextUpdate, State.RevokedCount) = (null, default, default, 0);
        // A change that arrived while the certificates were read may be missing from this CRL: keep it dirty.
        State.Dirty = _changes != changesBefore;
        _version++;
        await PersistAsync();
        LogIssued(logger, CaName, number, entries.Count, dropped, read, nextUpdate, cause);
        return crl;
    }

    /// <summary>
    /// The CRL's entries from the list, leaving out those whose certificate expired (RFC 5280 §3.3 and §5: a complete CRL
    /// lists the unexpired revoked certificates). §3.3: "An entry MUST NOT be removed from the CRL until it appears on one
    /// regularly scheduled CRL issued beyond the revoked certificate's validity period." Here that is the first CRL whose
    /// thisUpdate is after notAfter, whatever caused it: every CRL of this CA is a complete one with the same validity,
    /// and under steady revocations every CRL is caused by one, so waiting for a renewal could keep an entry for good.
    /// The alternative, keeping expired entries and saying so with X.509's expiredCertsOnCRL extension, would let the
    /// list grow without bound. Entries already on such a CRL leave the list now; those on it for the first time are
    /// returned in <c>Expiring</c>, to be marked once this CRL is published.
    /// </summary>
    private (List<CrlEntry> Entries, List<KeyValuePair<string, RevokedEntry>> Expiring, int Dropped) ListFor(DateTimeOffset thisUpdate)
    {
        var entries = new List<CrlEntry>(Revoked.Count);
        var expiring = new List<KeyValuePair<string, RevokedEntry>>();
        var dropped = new List<string>();
        foreach ((string serial, RevokedEntry entry) in Revoked)
        {
            if (entry.ExpiredAt(thisUpdate) && entry.ListedAfterExpiry)
            {
                dropped.Add(serial);
                continue;
            }
            if (entry.ExpiredAt(thisUpdate))
            {
                expiring.Add(new(serial, entry));
            }
            entries.Add(new CrlEntry(serial, entry.RevokedAtTime, entry.Reason, entry.InvalidityDateTime));
        }
        foreach (string serial in dropped)
        {
            Revoked.Remove(serial);
        }
        return (entries, expiring, dropped.Count);
    }

    /// <summary>
    /// Reads, once, the certificate of every unsettled serial (in batches) and settles it from what the certificate says.
    /// A serial settled by its own entry meanwhile, or announced again, is left as it is: what was read may be older.
    /// </summary>
    private async Task<int> SettleTrackedAsync()
    {
        string[] serials = [.. State.TrackedSerials.Where(serial => !_settled.ContainsKey(serial))];
        if (serials.Length == 0)
        {
            return 0;
        }
        _trackedDuringRead = [];
        try
        {
            for (int i = 0; i < serials.Length; i += ReadBatch)
            {
                string[] batch = serials[i..Math.Min(i + ReadBatch, serials.Length)];
                CertificateRecord?[] records = await Task.WhenAll(batch.Select(serial =>
                    GrainFactory.GetGrain<ICertificateGrain>(GrainKeys.Certificate(CaName, serial)).GetAsync()));
                for (int j = 0; j < batch.Length; j++)
                {
                    if (State.TrackedSerials.Contains(batch[j]) && !_settled.ContainsKey(batch[j]) && !_trackedDuringRead.Contains(batch[j]))
                    {
                        Settle(batch[j], RevokedEntry.From(records[j]));
                    }
                }
            }
        }
        finally
        {
            _trackedDuringRead = null;
        }
        return serials.Length;
    }

    /// <summary>
    /// Writes the revoked list, then lets go of the marks it now covers: those settled before the write started and not
    /// announced again since (the marks leave with the next write of the CA state).
    /// </summary>
    private async Task WriteListAsync()
    {
        long covered = _settlements;
        await revoked.WriteStateAsync();
        foreach ((string serial, long settlement) in _settled.Where(pair => pair.Value <= covered).ToArray())
        {
            State.TrackedSerials.Remove(serial);
            _settled.Remove(serial);
        }
        _version++;
    }

    /// <summary>
    /// Writes the CA state once for every change made before the write starts (the state is serialized when it starts):
    /// revocations that arrive while a write is in flight share the next one instead of queueing one each.
    /// </summary>
    private async Task PersistAsync()
    {
        long needed = _version;
        if (_durable >= needed)
        {
            return;
        }
        await _writeGate.WaitAsync();
        try
        {
            if (_durable < needed)
            {
                long covered = _version;
                await state.WriteStateAsync();
                _durable = Math.Max(_durable, covered);
            }
        }
        finally
        {
            _writeGate.Release();
        }
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Information,
        Message = "audit crl issued ca={Ca} number={Number} revoked={Revoked} expiredRemoved={Expired} certificatesRead={Read} nextUpdate={NextUpdate} cause={Cause}")]
    private static partial void LogIssued(ILogger logger, string ca, long number, int revoked, int expired, int read, DateTimeOffset nextUpdate, string cause);
}
