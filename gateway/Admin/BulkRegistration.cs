using System.Diagnostics;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Configuration;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CmpCluster.Gateway.Admin;

/// <summary>
/// POST /api/v1/end-entities/bulk: a roll-out registers thousands of devices in one call. Every item is validated
/// first; the valid ones are registered with a bounded number of grain calls in flight, so one request cannot flood
/// the silos, and an invalid item never stops the others.
/// </summary>
internal static class BulkRegistration
{
    /// <summary>Grain calls in flight per bulk request: enough to hide storage latency, few enough to leave room for CMP traffic.</summary>
    public const int MaxConcurrentCalls = 32;

    private enum Outcome : byte { Invalid, Created, Replaced, Existing }

    public static async Task<Results<Ok<BulkResponse>, ValidationProblem>> RegisterAsync(
        BulkRequest request, IGrainFactory grains, IOptionsMonitor<CmpOptions> cmp, ILoggerFactory loggers, CancellationToken cancel)
    {
        EndEntityRequest[] items = request.EndEntities ?? [];
        if (items.Length is 0 or > AdminValidation.MaxBulkItems)
        {
            return EndEntityEndpoints.Invalid(new Dictionary<string, string>
            {
                ["endEntities"] = $"must hold 1-{AdminValidation.MaxBulkItems} end entities; split larger roll-outs into several requests",
            });
        }
        bool replace = request.Replace ?? false;
        var stopwatch = Stopwatch.StartNew();
        AdminCatalog catalog = await AdminCatalog.LoadAsync(grains, cmp.CurrentValue);

        // 1. Validate everything before the first grain call; a username twice in one request is an error, not a race.
        var outcomes = new Outcome[items.Length];
        var registrations = new EndEntityRegistration?[items.Length];
        var errors = new List<BulkItemError>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < items.Length; i++)
        {
            EndEntityRequest? item = items[i];
            var problems = new Dictionary<string, string>();
            if (item is null)
            {
                problems["endEntities"] = "must be an object";
            }
            else
            {
                registrations[i] = AdminValidation.Validate(item.Username, requireUsername: true, item.SubjectDn, item.SubjectAltNames,
                    item.Ca, item.CertificateProfile, item.EndEntityProfile, item.EnrollmentCode, requireCode: true, catalog, problems);
                if (registrations[i] is not null && !seen.Add(item.Username!))
                {
                    registrations[i] = null;
                    problems["username"] = "appears more than once in this request";
                }
            }
            errors.AddRange(problems.Select(p => new BulkItemError(i, item?.Username, p.Key, p.Value)));
        }

        // 2. Register the valid ones, at most MaxConcurrentCalls at a time.
        await Parallel.ForEachAsync(Enumerable.Range(0, items.Length).Where(i => registrations[i] is not null),
            new ParallelOptions { MaxDegreeOfParallelism = MaxConcurrentCalls, CancellationToken = cancel },
            async (i, _) =>
            {
                EndEntityView? view = await grains.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(items[i].Username!))
                    .RegisterAsync(registrations[i]!, replace);
                // A registration that created the end entity leaves Created == Modified; a replacement keeps the old Created.
                outcomes[i] = view is null ? Outcome.Existing : view.Created == view.Modified ? Outcome.Created : Outcome.Replaced;
            });

        int Count(Outcome o) => outcomes.Count(x => x == o);
        var response = new BulkResponse(Count(Outcome.Created), Count(Outcome.Replaced), Count(Outcome.Existing),
            Count(Outcome.Invalid), errors);
        AdminLog.Bulk(loggers.CreateLogger(AdminLog.Category), items.Length, replace, response.Created, response.Replaced,
            response.Existing, response.Invalid, stopwatch.ElapsedMilliseconds);
        return TypedResults.Ok(response);
    }
}
