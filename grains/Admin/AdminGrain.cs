using System.Diagnostics;
using System.Text.RegularExpressions;
using CmpCluster.Contracts;
using CmpCluster.Grains.Pki;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;

namespace CmpCluster.Grains.Admin;

/// <summary>
/// The admin facade (EJBCA's "add / edit / delete end entity", "reset status", "revoke certificate", CRL issuance,
/// approvals). It is the only gateway-facing way to change end entities and certificates, and it applies the rules
/// itself, so a gateway (or anything else that reaches the client port) cannot skip them.
/// </summary>
[StatelessWorker]
public sealed partial class AdminGrain(PkiKeyRing keys, IOptionsMonitor<CmpOptions> options, Audit.IAuditTrail audit, CaStatusCache caStatus, ILogger<AdminGrain> logger)
    : Grain, IAdminGrain
{
    /// <summary>Grain calls in flight per bulk request: enough to hide storage latency, few enough to leave room for CMP traffic.</summary>
    public const int MaxConcurrentBulkCalls = 32;

    /// <summary>RFC 5280 §5.3.1 reason names, as the API takes them.</summary>
    private static readonly Dictionary<string, RevocationReason> Reasons = new(StringComparer.OrdinalIgnoreCase)
    {
        ["unspecified"] = RevocationReason.Unspecified,
        ["keyCompromise"] = RevocationReason.KeyCompromise,
        ["cACompromise"] = RevocationReason.CaCompromise,
        ["affiliationChanged"] = RevocationReason.AffiliationChanged,
        ["superseded"] = RevocationReason.Superseded,
        ["cessationOfOperation"] = RevocationReason.CessationOfOperation,
        ["certificateHold"] = RevocationReason.CertificateHold,
        ["removeFromCRL"] = RevocationReason.RemoveFromCrl,
        ["privilegeWithdrawn"] = RevocationReason.PrivilegeWithdrawn,
        ["aACompromise"] = RevocationReason.AaCompromise,
    };

    private const string UsernameRule = "must be 1-128 characters of A-Z a-z 0-9 . _ @ -";

    private AdminCatalog Catalog => new(keys.Authorities.Select(a => a.Name), options.CurrentValue.Profiles, options.CurrentValue.EndEntityProfiles,
        keys.Default.Name);

    public async Task<AdminReply<EndEntityView>> RegisterEndEntityAsync(EndEntityInput input, bool replace, string actor)
    {
        var errors = new Dictionary<string, string>();
        EndEntityRegistration? registration = Validate(input, requireUsername: true, requireCode: true, errors);
        if (registration is null)
        {
            return AdminReply<EndEntityView>.Invalid(errors);
        }
        await AuditAsync(actor, replace ? "register or replace end entity" : "register end entity", input.Username!);
        EndEntityView? view = await EndEntity(input.Username!).RegisterAsync(registration, replace);
        if (view is null)
        {
            return AdminReply<EndEntityView>.Problem(AdminStatus.Conflict, "End entity exists",
                $"The end entity '{input.Username}' is already registered; use PUT to change it.");
        }
        LogAction(logger, actor, "registered end entity", input.Username!);
        return new AdminReply<EndEntityView>(AdminStatus.Created, view);
    }

    public async Task<AdminReply<EndEntityView>> GetEndEntityAsync(string username)
    {
        if (!AdminValidation.IsValidUsername(username))
        {
            return AdminReply<EndEntityView>.Invalid("username", UsernameRule);
        }
        return await EndEntity(username).GetAsync() is { } view ? AdminReply<EndEntityView>.Ok(view) : EndEntityNotFound(username);
    }

    public async Task<AdminReply<EndEntityView>> UpdateEndEntityAsync(EndEntityInput input, string actor)
    {
        if (!AdminValidation.IsValidUsername(input.Username))
        {
            return AdminReply<EndEntityView>.Invalid("username", UsernameRule);
        }
        var errors = new Dictionary<string, string>();
        EndEntityRegistration? registration = Validate(input, requireUsername: false, requireCode: false, errors);
        if (registration is null)
        {
            return AdminReply<EndEntityView>.Invalid(errors);
        }
        await AuditAsync(actor, "update end entity", input.Username!);
        if (await EndEntity(input.Username!).UpdateAsync(registration) is not { } view)
        {
            return EndEntityNotFound(input.Username!);
        }
        LogAction(logger, actor, "updated end entity", input.Username!);
        return AdminReply<EndEntityView>.Ok(view);
    }

    public async Task<AdminReply<EndEntityView>> DeleteEndEntityAsync(string username, string actor)
    {
        if (!AdminValidation.IsValidUsername(username))
        {
            return AdminReply<EndEntityView>.Invalid("username", UsernameRule);
        }
        await AuditAsync(actor, "delete end entity", username);
        if (!await EndEntity(username).DeleteAsync())
        {
            return EndEntityNotFound(username);
        }
        LogAction(logger, actor, "deleted end entity", username);
        return new AdminReply<EndEntityView>(AdminStatus.Ok, null);
    }

    public async Task<AdminReply<EndEntityView>> ResetEndEntityAsync(string username, string? enrollmentCode, string actor)
    {
        if (!AdminValidation.IsValidUsername(username))
        {
            return AdminReply<EndEntityView>.Invalid("username", UsernameRule);
        }
        if (!AdminValidation.IsValidCode(enrollmentCode))
        {
            return AdminReply<EndEntityView>.Invalid("enrollmentCode", "must be 8-256 characters");
        }
        await AuditAsync(actor, "reset end entity", username);
        if (await EndEntity(username).ResetAsync(enrollmentCode!) is not { } view)
        {
            return EndEntityNotFound(username);
        }
        LogAction(logger, actor, "reset end entity", username);
        return AdminReply<EndEntityView>.Ok(view);
    }

    public async Task<BulkRegistrationReply> RegisterBulkAsync(IReadOnlyList<EndEntityInput?> items, bool replace, string actor)
    {
        if (items.Count is 0 or > AdminValidation.MaxBulkItems)
        {
            return new BulkRegistrationReply(0, 0, 0, 0, [], new Dictionary<string, string>
            {
                ["endEntities"] = $"must hold 1-{AdminValidation.MaxBulkItems} end entities; split larger roll-outs into several requests",
            });
        }
        var stopwatch = Stopwatch.StartNew();
        // 1. Validate everything before the first grain call; a username twice in one request is an error, not a race.
        var registrations = new EndEntityRegistration?[items.Count];
        var errors = new List<BulkItemProblem>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < items.Count; i++)
        {
            EndEntityInput? item = items[i];
            var problems = new Dictionary<string, string>();
            if (item is null)
            {
                problems["endEntities"] = "must be an object";
            }
            else
            {
                registrations[i] = Validate(item, requireUsername: true, requireCode: true, problems);
                if (registrations[i] is not null && !seen.Add(item.Username!))
                {
                    registrations[i] = null;
                    problems["username"] = "appears more than once in this request";
                }
            }
            errors.AddRange(problems.Select(p => new BulkItemProblem(i, item?.Username, p.Key, p.Value)));
        }

        await AuditAsync(actor, $"bulk registration of {registrations.Count(r => r is not null)} end entities (replace={replace})", "end-entities");
        // 2. Register the valid ones, a bounded number at a time. Outcome per item: 0 invalid, 1 created, 2 replaced, 3 existing.
        var outcomes = new int[items.Count];
        using var gate = new SemaphoreSlim(MaxConcurrentBulkCalls);
        await Task.WhenAll(Enumerable.Range(0, items.Count).Where(i => registrations[i] is not null).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                EndEntityView? view = await EndEntity(items[i]!.Username!).RegisterAsync(registrations[i]!, replace);
                // A registration that created the end entity leaves Created == Modified; a replacement keeps the old Created.
                outcomes[i] = view is null ? 3 : view.Created == view.Modified ? 1 : 2;
            }
            finally
            {
                gate.Release();
            }
        }));
        int Count(int outcome) => outcomes.Count(o => o == outcome);
        LogBulk(logger, actor, items.Count, replace, Count(1), Count(2), Count(3), Count(0), stopwatch.ElapsedMilliseconds);
        return new BulkRegistrationReply(Count(1), Count(2), Count(3), Count(0), errors);
    }

    public async Task<AdminReply<CertificateRecord>> GetCertificateAsync(string ca, string serialHex)
    {
        string? serial = AdminValidation.NormalizeSerial(serialHex);
        CertificateRecord? record = serial is null ? null : await Certificate(ca, serial).GetAsync();
        return record is null || record.Status == CertificateStatus.Unknown
            ? AdminReply<CertificateRecord>.Problem(AdminStatus.NotFound, "Certificate not found", $"No certificate with serial {serialHex} from CA '{ca}'.")
            : AdminReply<CertificateRecord>.Ok(record);
    }

    public async Task<AdminReply<CertificateRecord>> RevokeCertificateAsync(
        string ca, string serialHex, string? reasonName, DateTimeOffset? invalidityDate, string actor)
    {
        string? serial = AdminValidation.NormalizeSerial(serialHex);
        if (serial is null)
        {
            return AdminReply<CertificateRecord>.Invalid("serialHex", "must be 1-64 hexadecimal digits");
        }
        if (!Reasons.TryGetValue(reasonName ?? "unspecified", out RevocationReason reason))
        {
            return AdminReply<CertificateRecord>.Invalid("reason", "must be an RFC 5280 reason: " + string.Join(", ", Reasons.Keys));
        }
        ICertificateGrain certificate = Certificate(ca, serial);
        CertificateRecord? before = await certificate.GetAsync();
        if (reason == RevocationReason.CertificateHold && !HoldAllowed(before))
        {
            // RFC 5280 §5.3.1: a hold is a profile decision (Cmp:Profiles:<name>:AllowCertificateHold).
            return AdminReply<CertificateRecord>.Invalid("reason", "certificateHold is not allowed by this certificate's profile");
        }
        await AuditAsync(actor, $"revoke certificate ({reason})", GrainKeys.Certificate(ca, serial));
        RevocationResult result = await certificate.RevokeAsync(new RevocationRequest(reason, $"admin API ({actor})", invalidityDate));
        switch (result)
        {
            case RevocationResult.NotIssued:
                return AdminReply<CertificateRecord>.Problem(AdminStatus.NotFound, "Certificate not found",
                    $"No issued certificate with serial {serialHex} from CA '{ca}'.");
            case RevocationResult.AlreadyRevoked:
                return AdminReply<CertificateRecord>.Problem(AdminStatus.Conflict, "Already revoked",
                    $"The certificate {serialHex} of CA '{ca}' was revoked before.");
            case RevocationResult.NotOnHold:
                return AdminReply<CertificateRecord>.Problem(AdminStatus.Conflict, "Not on hold",
                    $"removeFromCRL releases a certificateHold; the certificate {serialHex} of CA '{ca}' is not on hold.");
        }
        LogAction(logger, actor, $"revoked certificate ({reason})", GrainKeys.Certificate(ca, serial));
        return AdminReply<CertificateRecord>.Ok((await certificate.GetAsync())!);
    }

    public async Task<AdminReply<CrlInfo>> IssueCrlAsync(string ca, string actor)
    {
        if (keys.FindAuthority(ca) is null)
        {
            return AdminReply<CrlInfo>.Problem(AdminStatus.NotFound, "CA not found", $"No CA '{ca}' in this cluster.");
        }
        await AuditAsync(actor, "issue CRL", ca);
        CrlInfo crl = await GrainFactory.GetGrain<ICertificateAuthorityGrain>(GrainKeys.CertificateAuthority(ca)).IssueCrlAsync();
        LogAction(logger, actor, $"issued CRL {crl.Number}", ca);
        return AdminReply<CrlInfo>.Ok(crl);
    }

    public async Task<AdminReply<CaInfo>> SetCaEnabledAsync(string ca, bool enabled, string actor)
    {
        if (keys.FindAuthority(ca) is null)
        {
            return AdminReply<CaInfo>.Problem(AdminStatus.NotFound, "CA not found", $"No CA '{ca}' in this cluster.");
        }
        await AuditAsync(actor, enabled ? "enable CA" : "disable CA", ca);
        await GrainFactory.GetGrain<Internal.ICaStatusGrain>(ca).SetEnabledAsync(enabled, actor);
        caStatus.Forget(ca);
        LogAction(logger, actor, enabled ? "enabled CA" : "disabled CA", ca);
        IReadOnlyList<CaInfo> cas = await GrainFactory.GetGrain<ICaDirectoryGrain>(GrainKeys.Admin).ListAsync();
        return AdminReply<CaInfo>.Ok(cas.Single(c => c.Name == ca));
    }

    public Task<AdminReply<CaInfo>> CreateCaAsync(CaCreateInput input, string actor) =>
        ProvisionCaAsync(actor, "create CA", input.Name, recorded => recorded.Create(input, actor, keys));

    public Task<AdminReply<CaInfo>> ImportCaAsync(CaImportInput input, string actor) =>
        ProvisionCaAsync(actor, "import CA", input.Name, recorded => recorded.Import(input, actor, keys));

    /// <summary>
    /// A CA made or imported (grains/Pki/RecordedCas.cs): the attempt is audited first, the CA's keys once it is in the key
    /// ring (as a start records them), and its CRL reminder registered with its first CRL, as every silo start does for
    /// the CAs it loads (grains/Revocation/RevocationStartup.cs).
    /// </summary>
    private async Task<AdminReply<CaInfo>> ProvisionCaAsync(string actor, string action, string? name, Func<RecordedCas, CaProvisioning> provision)
    {
        if (keys.Recorded is not { } recorded)
        {
            return AdminReply<CaInfo>.Problem(AdminStatus.Conflict, "CAs cannot be added here", "This silo's key ring has no data directory for new CAs.");
        }
        await AuditAsync(actor, action, name ?? "");
        // Key generation and key decryption take a while: off the grain's scheduler.
        CaProvisioning outcome = await Task.Run(() => provision(recorded));
        if (outcome.Ca is not { } ca)
        {
            LogAction(logger, actor, $"{action} refused ({outcome.Field})", name ?? "");
            return outcome.Conflict
                ? AdminReply<CaInfo>.Problem(AdminStatus.Conflict, "CA exists", outcome.Message!)
                : AdminReply<CaInfo>.Invalid(outcome.Field!, outcome.Message!);
        }
        foreach (KeyHolder key in new[] { ca.Ca, ca.CmpSigner, ca.OcspSigner })
        {
            await audit.AppendAsync(new Audit.AuditEvent(Audit.AuditEventType.KeyLoaded, actor, key.Name,
                "cert-sha256=" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(key.CertificateDer))));
        }
        await GrainFactory.GetGrain<ICrlGrain>(GrainKeys.CertificateAuthority(ca.Name)).GetCrlAsync();
        LogAction(logger, actor, action, ca.Name);
        IReadOnlyList<CaInfo> cas = await GrainFactory.GetGrain<ICaDirectoryGrain>(GrainKeys.Admin).ListAsync();
        return new AdminReply<CaInfo>(AdminStatus.Created, cas.Single(c => c.Name == ca.Name));
    }

    public Task<IReadOnlyList<PendingApproval>> ListApprovalsAsync() =>
        GrainFactory.GetGrain<IApprovalQueueGrain>(GrainKeys.Approvals).ListAsync();

    public async Task<AdminReply<string>> DecideApprovalAsync(string alias, string transactionIdHex, bool approve, string actor)
    {
        // The transactionID as the list shows it: 32..128 hex digits (RFC 9483 §3.1: at least 128 bits).
        if (!TransactionIdHex().IsMatch(transactionIdHex))
        {
            return AdminReply<string>.Invalid("transactionId", "must be 32-128 hexadecimal digits");
        }
        if (!options.CurrentValue.Aliases.ContainsKey(alias))
        {
            return AdminReply<string>.Problem(AdminStatus.NotFound, "No request waits for approval", $"There is no CMP alias '{alias}'.");
        }
        string key = GrainKeys.Transaction(alias, Convert.FromHexString(transactionIdHex));
        await audit.AppendAsync(new Audit.AuditEvent(Audit.AuditEventType.ApprovalDecided, actor, key, approve ? "approve" : "reject"));
        if (!await GrainFactory.GetGrain<ITransactionControlGrain>(key).DecideApprovalAsync(approve, actor))
        {
            return AdminReply<string>.Problem(AdminStatus.NotFound, "No request waits for approval",
                $"Transaction {transactionIdHex} of alias '{alias}' is not waiting for approval.");
        }
        LogAction(logger, actor, approve ? "approved request" : "rejected request", key);
        return AdminReply<string>.Ok(key);
    }

    /// <summary>Every admin change is in the audit trail before it is made; without the trail, nothing is changed.</summary>
    private Task AuditAsync(string actor, string action, string target) =>
        audit.AppendAsync(new Audit.AuditEvent(Audit.AuditEventType.AdminAction, actor, target, action));

    private bool HoldAllowed(CertificateRecord? record) =>
        record?.Intent.Profile is { } profile && options.CurrentValue.Profiles.TryGetValue(profile, out CertificateProfileOptions? settings)
        && settings.AllowCertificateHold;

    private EndEntityRegistration? Validate(EndEntityInput input, bool requireUsername, bool requireCode, Dictionary<string, string> errors) =>
        AdminValidation.Validate(input.Username, requireUsername, input.SubjectDn, input.SubjectAltNames, input.Ca, input.CertificateProfile,
            input.EndEntityProfile, input.EnrollmentCode, requireCode, Catalog, errors);

    private IEndEntityGrain EndEntity(string username) => GrainFactory.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username));

    private ICertificateGrain Certificate(string ca, string serial) => GrainFactory.GetGrain<ICertificateGrain>(GrainKeys.Certificate(ca, serial));

    private static AdminReply<EndEntityView> EndEntityNotFound(string username) =>
        AdminReply<EndEntityView>.Problem(AdminStatus.NotFound, "End entity not found", $"No end entity '{username}' is registered.");

    [GeneratedRegex("^([0-9A-Fa-f]{2}){16,64}$")]
    private static partial Regex TransactionIdHex();

    [LoggerMessage(EventId = 910, Level = LogLevel.Information, Message = "admin {Actor}: {Action} {Target}")]
    private static partial void LogAction(ILogger logger, string actor, string action, string target);

    [LoggerMessage(EventId = 911, Level = LogLevel.Information,
        Message = "admin {Actor}: bulk registration of {Count} end entities (replace={Replace}): {Created} created, {Replaced} replaced, {Existing} existing, {Invalid} invalid in {ElapsedMs} ms")]
    private static partial void LogBulk(ILogger logger, string actor, int count, bool replace, int created, int replaced, int existing, int invalid, long elapsedMs);
}
