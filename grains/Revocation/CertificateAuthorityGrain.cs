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

    /// <summary>Serials (grain-key hex) whose revocation state ever changed; each CRL reads them all.</summary>
    [Id(1)] public HashSet<string> TrackedSerials { get; set; } = [];

    /// <summary>A revocation changed since the last CRL: the next check issues one even before renewal is due.</summary>
    [Id(2)] public bool Dirty { get; set; }

    [Id(3)] public byte[]? CrlDer { get; set; }
    [Id(4)] public DateTimeOffset ThisUpdate { get; set; }
    [Id(5)] public DateTimeOffset NextUpdate { get; set; }
    [Id(6)] public int RevokedCount { get; set; }
}

/// <summary>
/// One CA's CRL publishing. The CRL is built from the certificate grains themselves, never from a copy, so it cannot
/// drift from them. Issuance is debounced after revocations (a grain timer) and guaranteed by a durable reminder
/// (renewal before nextUpdate, and revocations whose timer a crash lost: the dirty flag is persisted first).
/// </summary>
/// <remarks>
/// <see cref="ICertificateAuthorityGrain.TrackRevocationAsync"/> and <see cref="ICertificateAuthorityGrain.RevocationChangedAsync"/>
/// interleave (a certificate grain calls them while this grain may be reading that same certificate for a CRL: without
/// interleaving the two would wait on each other). Every state write therefore goes through one gate, and a change that
/// arrives while a CRL is being built keeps the dirty flag set, so the next CRL has it.
/// </remarks>
public sealed partial class CertificateAuthorityGrain(
    [PersistentState("ca", GrainNames.Storage)] IPersistentState<CertificateAuthorityState> state,
    PkiKeyRing keys,
    IOptionsMonitor<PkiOptions> options,
    TimeProvider time,
    ILogger<CertificateAuthorityGrain> logger) : Grain, ICertificateAuthorityGrain, IRemindable
{
    private const string RenewReminder = "crl-renew";
    private const int ReadBatch = 64;

    private readonly SemaphoreSlim _writeGate = new(1, 1);
    private long _changes;
    private IGrainTimer? _debounce;

    private string CaName => this.GetPrimaryKeyString();

    public async Task TrackRevocationAsync(string serialHex)
    {
        _changes++;
        if (state.State.TrackedSerials.Contains(serialHex) && state.State.Dirty)
        {
            return;
        }
        state.State.TrackedSerials.Add(serialHex);
        state.State.Dirty = true;
        await WriteAsync();
    }

    public async Task RevocationChangedAsync(string serialHex)
    {
        _changes++;
        if (!state.State.Dirty)
        {
            state.State.Dirty = true; // a CRL issued since TrackRevocation cleared it; the reminder must still see it
            await WriteAsync();
        }
        // The first change of a burst starts the timer; later ones ride along, so a CRL follows within Debounce.
        _debounce ??= this.RegisterGrainTimer(async _ =>
        {
            _debounce?.Dispose();
            _debounce = null;
            if (state.State.Dirty)
            {
                await IssueAsync("revocation");
            }
        }, new GrainTimerCreationOptions(options.CurrentValue.Crl.Debounce, Timeout.InfiniteTimeSpan));
    }

    public async Task<CrlInfo> GetCrlAsync()
    {
        if (state.State.CrlDer is null || time.GetUtcNow() >= state.State.NextUpdate)
        {
            return await IssueAsync(state.State.CrlDer is null ? "first" : "expired");
        }
        return Current();
    }

    public Task<CrlInfo> IssueCrlAsync() => IssueAsync("requested");

    /// <summary>
    /// The durable schedule that renews the CRL before nextUpdate is registered (or updated to the configured period) at
    /// every activation; the silo activates every CA of its key ring at start (<see cref="RevocationStartup"/>).
    /// </summary>
    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        TimeSpan period = options.CurrentValue.Crl.CheckPeriod;
        await this.RegisterOrUpdateReminder(RenewReminder, period, period);
        await base.OnActivateAsync(cancellationToken);
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (reminderName != RenewReminder)
        {
            return;
        }
        CrlOptions crl = options.CurrentValue.Crl;
        if (state.State.CrlDer is null)
        {
            await IssueAsync("first");
        }
        else if (state.State.Dirty)
        {
            await IssueAsync("revocation");
        }
        else if (time.GetUtcNow() >= state.State.NextUpdate - crl.RenewBefore)
        {
            await IssueAsync("renewal");
        }
    }

    /// <summary>Reads every tracked certificate, signs the CRL and stores it with its number before anyone sees it.</summary>
    private async Task<CrlInfo> IssueAsync(string cause)
    {
        CertificateAuthorityKeys ca = keys.FindAuthority(CaName)
            ?? throw new InvalidOperationException($"no CA '{CaName}' in this silo's key ring");
        long changesBefore = _changes;
        string[] serials = state.State.TrackedSerials.ToArray();
        var entries = new List<CrlEntry>();
        for (int i = 0; i < serials.Length; i += ReadBatch)
        {
            CertificateRecord?[] records = await Task.WhenAll(serials.Skip(i).Take(ReadBatch)
                .Select(serial => GrainFactory.GetGrain<ICertificateGrain>(GrainKeys.Certificate(CaName, serial)).GetAsync()));
            foreach (CertificateRecord? record in records)
            {
                if (record is { Status: CertificateStatus.Revoked, RevokedAt: { } revokedAt })
                {
                    entries.Add(new CrlEntry(record.Intent.SerialHex, revokedAt, record.RevocationReason ?? RevocationReason.Unspecified, record.InvalidityDate));
                }
            }
        }

        DateTimeOffset thisUpdate = new(CrlBuilder.WholeSeconds(time.GetUtcNow()));
        DateTimeOffset nextUpdate = thisUpdate + options.CurrentValue.Crl.Validity;
        // RFC 5280 §5.2.3: strictly increasing. The number is stored together with the CRL, before it is returned.
        long number = state.State.CrlNumber + 1;
        byte[] der = CrlBuilder.Build(ca.Ca, number, thisUpdate, nextUpdate, entries);

        state.State.CrlNumber = number;
        state.State.CrlDer = der;
        state.State.ThisUpdate = thisUpdate;
        state.State.NextUpdate = nextUpdate;
        state.State.RevokedCount = entries.Count;
        // A change that arrived while the certificates were read may be missing from this CRL: keep it dirty.
        state.State.Dirty = _changes != changesBefore;
        await WriteAsync();
        LogIssued(logger, CaName, number, entries.Count, nextUpdate, cause);
        return Current();
    }

    private CrlInfo Current() => new(state.State.CrlDer!, state.State.CrlNumber, state.State.ThisUpdate, state.State.NextUpdate, state.State.RevokedCount);

    private async Task WriteAsync()
    {
        await _writeGate.WaitAsync();
        try
        {
            await state.WriteStateAsync();
        }
        finally
        {
            _writeGate.Release();
        }
    }

    [LoggerMessage(EventId = 500, Level = LogLevel.Information,
        Message = "audit crl issued ca={Ca} number={Number} revoked={Revoked} nextUpdate={NextUpdate} cause={Cause}")]
    private static partial void LogIssued(ILogger logger, string ca, long number, int revoked, DateTimeOffset nextUpdate, string cause);
}
