app_name = "warehouse"
urlpatterns: list = []
