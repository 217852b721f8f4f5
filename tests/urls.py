"""A view that enqueues and one that reads back: the web side of the core path."""

from django.http import HttpRequest, JsonResponse
from django.tasks import default_task_backend
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from tests.sample_tasks import add


@csrf_exempt
def enqueue_add(request: HttpRequest) -> JsonResponse:
    result = add.enqueue(int(request.POST["a"]), int(request.POST["b"]))
    return JsonResponse({"id": result.id, "status": result.status})


def read_result(request: HttpRequest, task_id: str) -> JsonResponse:
    result = default_task_backend.get_result(task_id)
    return JsonResponse({"status": result.status, "return_value": result.return_value})


urlpatterns = [
    path("enqueue-add/", enqueue_add),
    path("results/<str:task_id>/", read_result),
]
